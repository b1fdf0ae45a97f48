"""Routed experts under expert parallelism: placement, touched experts, and load imbalance.

- Each of the `ep` GPUs of an MoE group holds ceil((E + redundant) / ep) routed experts (DeepSeek day 6:
  256 + 32 redundant experts over EP32 prefill = 9 per GPU, over EP144 decode = 2 per GPU), each
  sliced `moe_tp` ways.
- A step's G tokens each pick top-k of E experts; an expert is touched with probability
  1 - (1 - k/E)^G, and only touched experts' weights are read.
- The busiest GPU of the group sets the pace of a MoE layer (every GPU waits for the combine). Its
  load exceeds the mean by (a) a statistical term for routing G x k tokens at random over `ep`
  GPUs, sqrt(2 ln(ep) / mean) (the expected maximum of `ep` roughly normal loads), and (b) the skew of
  expert popularity in real traffic, which a load balancer (EPLB) reduces but does not remove.
"""

from __future__ import annotations

import math

from planner.deployment import Deployment
from planner.model_spec import ModelSpec

__all__ = ["local_experts", "expert_touch_fraction", "expert_load_imbalance", "EXPERT_SKEW_WITH_EPLB",
           "EXPERT_SKEW_WITHOUT_EPLB"]

EXPERT_SKEW_WITH_EPLB = 1.18
"""Busiest-GPU over mean expert load with EPLB: LMSYS measured 50,302 prefill tokens/s per node with
SGLang's default EPLB against 59,337 with a simulated perfect balance on the same 96 x H100 run
(lm-sys blog 2025-05-05 "large-scale EP", prefill table): 59,337 / 50,302 = 1.18."""

EXPERT_SKEW_WITHOUT_EPLB = 1.35
"""The same without a load balancer. Assumption, not a stored measurement: DeepSeek's EPLB repository
and the LMSYS blog report EPLB as a clear win at EP >= 32 without publishing the unbalanced ratio; 1.35
puts the unbalanced busiest GPU half-way again above the balanced one. It applies only when experts
are spread over more than one GPU."""


def local_experts(spec: ModelSpec, dep: Deployment) -> int:
    """Routed experts (original plus redundant copies) on each GPU of the MoE group."""
    if not spec.is_moe:
        return 0
    return math.ceil((spec.n_routed_experts + dep.redundant_experts) / max(1, dep.ep))


def expert_touch_fraction(tokens: float, top_k: int, experts: int) -> float:
    """Expected share of experts at least one of `tokens` tokens routes to: 1 - (1 - k/E)^T."""
    if experts <= 0 or tokens <= 0:
        return 0.0
    return 1.0 - (1.0 - top_k / experts) ** tokens


def expert_load_imbalance(spec: ModelSpec, dep: Deployment, group_tokens: float) -> float:
    """Load of the busiest GPU in the MoE group over the mean, for `group_tokens` tokens in the group."""
    if not spec.is_moe or dep.ep <= 1 or group_tokens <= 0:
        return 1.0
    mean = group_tokens * spec.num_experts_per_tok / dep.ep
    statistical = 1.0 + math.sqrt(2.0 * math.log(dep.ep) / max(mean, 1.0))
    skew = EXPERT_SKEW_WITH_EPLB if dep.eplb else EXPERT_SKEW_WITHOUT_EPLB
    return max(statistical, skew) if mean >= 1.0 else statistical
