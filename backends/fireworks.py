"""Fireworks AI: thinking through `reasoning_effort` (`none` turns it off)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from backends.openai_compat import OpenAICompatBackend

__all__ = ["FireworksBackend"]


class FireworksBackend(OpenAICompatBackend):
    """Fireworks' OpenAI-compatible inference endpoint."""

    type_name: ClassVar[str] = "fireworks"
    default_base_url: ClassVar[str | None] = "https://api.fireworks.ai/inference/v1"

    def apply_thinking(self, body: dict[str, Any], on: bool, client_body: Mapping[str, Any]) -> None:
        super().apply_thinking(body, on, client_body)
        if not on:
            body["reasoning_effort"] = "none"
