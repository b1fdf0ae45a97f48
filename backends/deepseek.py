"""DeepSeek's own API: `thinking: {type: enabled|disabled}`; `deepseek-reasoner` always thinks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from backends.openai_compat import OpenAICompatBackend

__all__ = ["DeepSeekBackend"]

REASONER_MODEL = "deepseek-reasoner"
CHAT_MODEL = "deepseek-chat"


class DeepSeekBackend(OpenAICompatBackend):
    """api.deepseek.com (V3.2 as `deepseek-chat` / `deepseek-reasoner`)."""

    type_name: ClassVar[str] = "deepseek"
    default_base_url: ClassVar[str | None] = "https://api.deepseek.com/v1"

    def apply_thinking(self, body: dict[str, Any], on: bool, client_body: Mapping[str, Any]) -> None:
        if not on and body.get("model") == REASONER_MODEL:
            body["model"] = CHAT_MODEL  # the reasoner model cannot switch thinking off
        body["thinking"] = {"type": "enabled" if on else "disabled"}
