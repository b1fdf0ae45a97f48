"""MTP speculative decoding: tokens accepted per verification step, and the draft cost.

DeepSeek-V3/R1/V3.2 ship one MTP module (num_nextn_predict_layers = 1) that engines run
autoregressively `--mtp N` times per step to draft N tokens, verified in one target step.
"""

from __future__ import annotations

from planner.errors import PlannerInputError

__all__ = ["accepted_tokens_per_step", "MTP_ACCEPTED_TOKENS_PER_STEP", "MAX_MTP_DRAFT_TOKENS"]

MTP_ACCEPTED_TOKENS_PER_STEP: dict[int, float] = {0: 1.0, 1: 1.92, 2: 2.58, 3: 2.82}
"""Mean tokens emitted per target step with N MTP draft tokens, measured for DeepSeek-R1 on B200 by
NVIDIA (TensorRT-LLM tech blog 1, "Pushing Latency Boundaries", MTP acceptance table: 1.92 / 2.58 /
2.82 for MTP1/2/3). The N = 1 figure agrees with the DeepSeek-V3 technical report (section 5.4.3:
second-token acceptance of 85-90%, i.e. 1.85-1.9 tokens per step)."""

MAX_MTP_DRAFT_TOKENS = 3


def accepted_tokens_per_step(draft_tokens: int) -> float:
    if draft_tokens not in MTP_ACCEPTED_TOKENS_PER_STEP:
        raise PlannerInputError(
            f"--mtp {draft_tokens}: acceptance is only published for 0-{MAX_MTP_DRAFT_TOKENS} draft tokens"
        )
    return MTP_ACCEPTED_TOKENS_PER_STEP[draft_tokens]
