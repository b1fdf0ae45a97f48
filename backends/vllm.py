"""vLLM's OpenAI-compatible server: thinking via `chat_template_kwargs`, `reasoning` renamed in responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from backends.openai_compat import OpenAICompatBackend

__all__ = ["VllmBackend", "set_template_thinking"]


def set_template_thinking(body: dict[str, Any], on: bool) -> None:
    """`chat_template_kwargs: {thinking: bool}`, the switch of DeepSeek-V3.1/3.2 chat templates."""
    kwargs = body.get("chat_template_kwargs")
    body["chat_template_kwargs"] = {**kwargs, "thinking": on} if isinstance(kwargs, dict) else {"thinking": on}


class VllmBackend(OpenAICompatBackend):
    """Self-hosted vLLM (`vllm serve`), default port 8000."""

    type_name: ClassVar[str] = "vllm"
    default_base_url: ClassVar[str | None] = "http://127.0.0.1:8000/v1"

    def apply_thinking(self, body: dict[str, Any], on: bool, client_body: Mapping[str, Any]) -> None:
        set_template_thinking(body, on)
