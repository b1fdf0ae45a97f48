"""Novita AI: `enable_thinking`, on by default for DeepSeek V3.x there, so off is sent explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from backends.openai_compat import OpenAICompatBackend

__all__ = ["NovitaBackend"]


class NovitaBackend(OpenAICompatBackend):
    """Novita's OpenAI-compatible endpoint."""

    type_name: ClassVar[str] = "novita"
    default_base_url: ClassVar[str | None] = "https://api.novita.ai/openai/v1"
    thinking_on_by_default: ClassVar[bool] = True

    def apply_thinking(self, body: dict[str, Any], on: bool, client_body: Mapping[str, Any]) -> None:
        body["enable_thinking"] = on
