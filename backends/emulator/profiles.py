"""How each emulated provider differs: thinking switch, reasoning field, usage shape, chunk shape.

Sources (checked 2026-11; DeepSeek re-checked 2026-12: V4 models, thinking on by default): vLLM
OpenAI server protocol (`reasoning` replaced `reasoning_content` in deltas; usage with
`prompt_tokens_details`; the rest of its wire format in `wire.py`, checked against a real vLLM by
the contract tests), SGLang OpenAI API docs (`chat_template_kwargs`,
`reasoning_content`), DeepSeek API docs (`prompt_cache_hit_tokens`/`prompt_cache_miss_tokens`,
`completion_tokens_details.reasoning_tokens`, usage on the final chunk, `system_fingerprint`),
Novita (`enable_thinking`, on by default for DeepSeek V3.x), Fireworks (`reasoning_effort`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from backends.emulator.wire import PlainWire, VllmWire, WireFormat

__all__ = ["Profile", "PROFILES"]


def _template_thinking(body: Mapping[str, Any]) -> bool:
    kwargs = body.get("chat_template_kwargs")
    return isinstance(kwargs, dict) and bool(kwargs.get("thinking") or kwargs.get("enable_thinking"))


def _deepseek_thinking(body: Mapping[str, Any]) -> bool:
    """DeepSeek-V4 (the API's only models since 2026-04-24) thinks unless `thinking: {type: disabled}`."""
    switch = body.get("thinking")
    return not (isinstance(switch, dict) and switch.get("type") == "disabled")


def _novita_thinking(body: Mapping[str, Any]) -> bool:
    return body.get("enable_thinking", True) is not False


def _fireworks_thinking(body: Mapping[str, Any]) -> bool:
    effort = body.get("reasoning_effort")
    return isinstance(effort, str) and effort != "none"


def _openai_usage(prompt: int, cached: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _vllm_usage(prompt: int, cached: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": {"cached_tokens": cached} if cached else None,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _sglang_usage(prompt: int, cached: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": {"cached_tokens": cached} if cached else None,
    }


def _deepseek_usage(prompt: int, cached: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {
        "completion_tokens": completion,
        "prompt_tokens": prompt,
        "prompt_tokens_details": {"cached_tokens": cached},
        "prompt_cache_hit_tokens": cached,
        "prompt_cache_miss_tokens": prompt - cached,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _fireworks_usage(prompt: int, cached: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


@dataclass(frozen=True, slots=True)
class Profile:
    """One provider's observable behaviour."""

    name: str
    default_model: str
    owned_by: str
    thinking_requested: Callable[[Mapping[str, Any]], bool]
    reasoning_field: str
    usage: Callable[[int, int, int, int], dict[str, Any]]
    usage_on_final_chunk: bool  # usage rides on the finish chunk (always sent) vs a separate chunk on request
    cache_block_tokens: int  # prefix caching granularity
    system_fingerprint: str | None = None
    metrics_prefix: str | None = None  # vllm / sglang serve /metrics
    extra_choice_fields: tuple[tuple[str, Any], ...] = (("logprobs", None),)
    wire: WireFormat = PlainWire()  # what the provider's server adds around the OpenAI core


PROFILES: dict[str, Profile] = {
    "vllm": Profile(
        name="vllm", default_model="deepseek-ai/DeepSeek-V3.2", owned_by="vllm",
        thinking_requested=_template_thinking, reasoning_field="reasoning", usage=_vllm_usage,
        usage_on_final_chunk=False, cache_block_tokens=16, metrics_prefix="vllm", wire=VllmWire("reasoning"),
    ),
    "sglang": Profile(
        name="sglang", default_model="deepseek-ai/DeepSeek-V3.2", owned_by="sglang",
        thinking_requested=_template_thinking, reasoning_field="reasoning_content", usage=_sglang_usage,
        usage_on_final_chunk=False, cache_block_tokens=1, metrics_prefix="sglang",
        extra_choice_fields=(("logprobs", None), ("matched_stop", None)),
    ),
    "novita": Profile(
        name="novita", default_model="deepseek/deepseek-v3.2", owned_by="novita",
        thinking_requested=_novita_thinking, reasoning_field="reasoning_content", usage=_openai_usage,
        usage_on_final_chunk=False, cache_block_tokens=64,
    ),
    "fireworks": Profile(
        name="fireworks", default_model="accounts/fireworks/models/deepseek-v3p1-terminus", owned_by="fireworks",
        thinking_requested=_fireworks_thinking, reasoning_field="reasoning_content", usage=_fireworks_usage,
        usage_on_final_chunk=True, cache_block_tokens=64,
    ),
    "deepseek": Profile(
        name="deepseek", default_model="deepseek-v4-flash", owned_by="deepseek",
        thinking_requested=_deepseek_thinking, reasoning_field="reasoning_content", usage=_deepseek_usage,
        usage_on_final_chunk=True, cache_block_tokens=64, system_fingerprint="fp_ffc7281d48_prod0820_fp8_kvcache",
    ),
}
