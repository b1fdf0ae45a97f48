"""MTP acceptance: the published tokens-per-step table."""

from __future__ import annotations

import pytest

from planner.errors import PlannerInputError
from planner.speculative import accepted_tokens_per_step


def test_acceptance_follows_nvidias_published_mtp_table():
    # TensorRT-LLM tech blog 1 (DeepSeek-R1 on B200): MTP1 1.92, MTP2 2.58, MTP3 2.82 tokens per step
    assert [accepted_tokens_per_step(n) for n in range(4)] == [1.0, 1.92, 2.58, 2.82]


def test_unpublished_draft_lengths_are_rejected():
    with pytest.raises(PlannerInputError, match="--mtp 5"):
        accepted_tokens_per_step(5)
