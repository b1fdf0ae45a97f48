"""Prefill FLOPs of a prompt: the active parameters plus causal attention (the model-FLOPs count).

The time of a prefill step is planner.step_model's (it rooflines each operation); this module counts
the work itself, split by where it runs, for reports and checks.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.flops import prefill_attention_flops
from planner.model_spec import ModelSpec
from planner.params import layer_multiplier, tensor_inventory

__all__ = ["PrefillFlops", "prefill_flops"]


class PrefillFlops(BaseModel):
    """FLOPs of one prompt, split by where they run and in which precision."""

    model_config = ConfigDict(frozen=True)

    rank_linear: float
    expert_linear: float
    attention: float
    indexer: float

    @property
    def total(self) -> float:
        return self.rank_linear + self.expert_linear + self.attention + self.indexer


def prefill_flops(spec: ModelSpec, prompt_tokens: int) -> PrefillFlops:
    """FLOPs to prefill one prompt of `prompt_tokens` (main model; lm_head for the last token only)."""
    rank_linear = expert_linear = 0.0
    for g in tensor_inventory(spec):
        if g.layers == "mtp" or g.component == "embedding" or g.cols == 1:
            continue
        params = g.params_per_layer() * layer_multiplier(spec, g.layers)
        if g.component == "lm_head":
            rank_linear += 2.0 * params
        elif g.shard == "experts":
            expert_linear += 2.0 * prompt_tokens * params * g.active_fraction
        else:
            rank_linear += 2.0 * prompt_tokens * params
    attention, indexer = prefill_attention_flops(spec, prompt_tokens, spec.num_attention_heads)
    return PrefillFlops(
        rank_linear=rank_linear,
        expert_linear=expert_linear,
        attention=attention * spec.num_layers,
        indexer=indexer * spec.num_layers,
    )
