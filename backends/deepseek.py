"""DeepSeek's own API: `thinking: {type: enabled|disabled}`, on by default, so off is sent explicitly.

Sources, 2026-12-04: litellm 1.110.2's cost map (keys deepseek/deepseek-v4-flash, -v4-pro, citing
api-docs.deepseek.com/quick_start/pricing; deepseek-chat / -reasoner with deprecation_date 2026-07-24,
citing api-docs.deepseek.com/updates) and DeepSeek's V4 announcement as quoted by migration guides
(developersdigest.tech, wavespeed.ai; planner/data/prices/provider_models.json): since 2026-04-24 the API serves
DeepSeek-V4 as `deepseek-v4-flash` and `deepseek-v4-pro`, both thinking unless asked not to, with
a 1M-token context. The old ids `deepseek-chat` / `deepseek-reasoner` were aliases of V4-Flash
from then and were retired on 2026-07-24 15:59 UTC: no model of this API is V3.2 any more
(`gateway check` refuses them: policies.families.RETIRED_MODELS).
DeepSeek answers 400 to a tool continuation whose assistant turn lacks its `reasoning_content`,
which the translating front doors keep (gateway.protocols).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from backends.openai_compat import OpenAICompatBackend

__all__ = ["DeepSeekBackend"]


class DeepSeekBackend(OpenAICompatBackend):
    """api.deepseek.com (DeepSeek-V4: `deepseek-v4-flash`, `deepseek-v4-pro`)."""

    type_name: ClassVar[str] = "deepseek"
    default_base_url: ClassVar[str | None] = "https://api.deepseek.com/v1"
    thinking_on_by_default: ClassVar[bool] = True

    def apply_thinking(self, body: dict[str, Any], on: bool, client_body: Mapping[str, Any]) -> None:
        body["thinking"] = {"type": "enabled" if on else "disabled"}
