"""What each model family (planner catalog name) can do: default context window and thinking.

Sources: the planner catalog's copies of each model's Hugging Face config.json
(planner/data/models/<family>/config.json, `max_position_embeddings`), which vLLM and SGLang
use as the default max model length: 163840 for deepseek-v3.2, -v3.2-exp, -v3.1 and
-v3.1-terminus. All four are hybrid models with thinking switched by the chat template. The
V4 families have no planner catalog entry yet (no config.json copied); their figures are below.
Managed backends whose model is in litellm's cost map use that map's `max_input_tokens` instead
(e.g. 128000 for V3.1-Terminus on Fireworks, 131072 on Novita), as providers cap below the model.

`thinks_with_tools`: can the model call tools while thinking? DeepSeek-V3.1 and V3.1-Terminus
call tools only in non-thinking mode (DeepSeek-V3.1 model card on Hugging Face, "Toolcall is
supported in non-thinking mode"; Terminus keeps V3.1's template); DeepSeek-V3.2 (2025-12-01) is
"the first model from DeepSeek that integrates thinking with tool use. It supports tool calling in
both thinking and non-thinking modes" (Alibaba Cloud Model Studio, DeepSeek API page, updated
2026-02-05; likewise Vercel AI Gateway's DeepSeek V3.2 page), so V3.2-Exp, released before it,
cannot. V4 keeps V3.2's thinking tool calls (its chat template encodes tool calls with thinking
enabled: ModelScope twinkle's DeepseekV4Template docs). All checked 2026-12-04.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FamilySpec", "FAMILIES", "RETIRED_MODELS", "family_spec"]


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """Capabilities of one model family."""

    context_window_tokens: int
    thinking: bool
    thinks_with_tools: bool  # may think and call tools in the same request


FAMILIES: dict[str, FamilySpec] = {
    "deepseek-v3.2": FamilySpec(context_window_tokens=163840, thinking=True, thinks_with_tools=True),
    "deepseek-v3.2-exp": FamilySpec(context_window_tokens=163840, thinking=True, thinks_with_tools=False),
    "deepseek-v3.1-terminus": FamilySpec(context_window_tokens=163840, thinking=True, thinks_with_tools=False),
    "deepseek-v3.1": FamilySpec(context_window_tokens=163840, thinking=True, thinks_with_tools=False),
    # DeepSeek-V4, the DeepSeek API's only models since 2026-04-24 (backends/deepseek.py has the sources, 2026-12-04):
    # 1M-token context (litellm 1.110.2 cost map max_input_tokens 1000000), thinking on by default.
    "deepseek-v4-flash": FamilySpec(context_window_tokens=1_000_000, thinking=True, thinks_with_tools=True),
    "deepseek-v4-pro": FamilySpec(context_window_tokens=1_000_000, thinking=True, thinks_with_tools=True),
}


RETIRED_MODELS: dict[str, dict[str, str]] = {
    # backend type -> model id its provider no longer serves -> what replaced it
    # DeepSeek retired both on 2026-07-24 15:59 UTC; from 2026-04-24 they had pointed at V4-Flash
    # (sources in backends/deepseek.py, checked 2026-12-04).
    "deepseek": {"deepseek-chat": "deepseek-v4-flash", "deepseek-reasoner": "deepseek-v4-flash"},
}


def family_spec(family: str | None) -> FamilySpec | None:
    """The catalog entry for `family`, or None when unknown or unset."""
    return FAMILIES.get(family) if family else None
