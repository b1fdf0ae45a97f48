"""SGLang's OpenAI-compatible server: the same thinking switch as vLLM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from backends.openai_compat import OpenAICompatBackend
from backends.vllm import set_template_thinking

__all__ = ["SglangBackend"]


class SglangBackend(OpenAICompatBackend):
    """Self-hosted SGLang (`python -m sglang.launch_server`), default port 30000."""

    type_name: ClassVar[str] = "sglang"
    default_base_url: ClassVar[str | None] = "http://127.0.0.1:30000/v1"

    def apply_thinking(self, body: dict[str, Any], on: bool, client_body: Mapping[str, Any]) -> None:
        set_template_thinking(body, on)
