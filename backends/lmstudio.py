"""LM Studio's local server: OpenAI-compatible, no key, no thinking switch of its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from backends.openai_compat import OpenAICompatBackend

__all__ = ["LmStudioBackend"]


class LmStudioBackend(OpenAICompatBackend):
    """LM Studio (`lms server start`), default port 1234; thinking follows the loaded model."""

    type_name: ClassVar[str] = "lmstudio"
    default_base_url: ClassVar[str | None] = "http://127.0.0.1:1234/v1"

    def apply_thinking(self, body: dict[str, Any], on: bool, client_body: Mapping[str, Any]) -> None:
        return None
