"""DeepSeek's own API: `thinking: {type: enabled|disabled}`, on by default, so off is sent explicitly.

Checked 2026-12 (api-docs.deepseek.com "Models & Pricing" and "Change Log"; litellm 1.110.2 cost map
keys deepseek/deepseek-v4-flash and deepseek/deepseek-v4-pro): since 2026-04-24 the API serves
DeepSeek-V4 as `deepseek-v4-flash` and `deepseek-v4-pro`, both thinking unless asked not to, with
a 1M-token context. The old ids `deepseek-chat` / `deepseek-reasoner` were aliases of V4-Flash
from then and were retired on 2026-07-24 15:59 UTC: no model of this API is V3.2 any more.
DeepSeek answers 400 to a tool continuation whose assistant turn lacks its `reasoning_content`,
which the translating front doors keep (gateway.protocols).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from backends.openai_compat import OpenAICompatBackend

__all__ = ["DeepSeekBackend", "RETIRED_MODELS"]

RETIRED_MODELS: dict[str, str] = {"deepseek-chat": "deepseek-v4-flash", "deepseek-reasoner": "deepseek-v4-flash"}
"""Model ids the API no longer serves (since 2026-07-24), and what replaced them."""


class DeepSeekBackend(OpenAICompatBackend):
    """api.deepseek.com (DeepSeek-V4: `deepseek-v4-flash`, `deepseek-v4-pro`)."""

    type_name: ClassVar[str] = "deepseek"
    default_base_url: ClassVar[str | None] = "https://api.deepseek.com/v1"
    thinking_on_by_default: ClassVar[bool] = True

    def apply_thinking(self, body: dict[str, Any], on: bool, client_body: Mapping[str, Any]) -> None:
        body["thinking"] = {"type": "enabled" if on else "disabled"}
