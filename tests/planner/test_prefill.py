"""Prefill FLOPs: active linear weights per token plus causal attention."""

from __future__ import annotations

import pytest

from planner.catalog import load_model
from planner.params import param_counts
from planner.prefill import prefill_flops


def test_dense_prefill_flops_are_two_per_weight_per_token_plus_attention():
    spec = load_model("deepseek-r1-distill-llama-8b")
    by = param_counts(spec).by_component
    body = param_counts(spec).total - by["embedding"] - by["norms"] - by["lm_head"]
    f = prefill_flops(spec, 100)
    assert f.rank_linear == 2 * 100 * body + 2 * by["lm_head"]
    assert f.attention == 32 * 32 * 4 * 128 * (100 * 101 / 2)
    assert f.expert_linear == 0 and f.indexer == 0


def test_moe_prefill_counts_top_k_experts_only():
    spec = load_model("deepseek-v3")
    f = prefill_flops(spec, 10)
    assert f.expert_linear == pytest.approx(2 * 10 * 58 * 8 * 3 * 2048 * 7168)
