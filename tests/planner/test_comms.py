"""Collectives and expert placement: all-reduce, DeepEP dispatch/combine, KV transfer, imbalance."""

from __future__ import annotations

import pytest

from planner.catalog import load_gpu, load_model
from planner.comms import DEEPEP_LOW_LATENCY_GB_S, moe_dispatch_combine_s
from planner.deployment import Deployment
from planner.experts import expert_load_imbalance, expert_touch_fraction, local_experts

V3, H800 = load_model("deepseek-v3"), load_gpu("h800")


def _ep(ep: int, **extra) -> Deployment:
    return Deployment(gpu="h800", gpus=ep, tp=1, dp=ep, ep=ep, dp_attention=True, weights_dtype="fp8",
                      nodes=max(1, ep // 8), **extra)


def test_low_latency_dispatch_reproduces_deepeps_table_at_128_tokens():
    # DeepEP legacy docs: EP128 dispatch 192 us, combine 369 us (128 tokens, hidden 7168, top-8)
    t = moe_dispatch_combine_s(128, 7168, 8, 128, H800, _ep(128))
    dispatch = 128 * 8 * 7168 * (1 + 4 / 128) * 127 / 128 / (DEEPEP_LOW_LATENCY_GB_S[128][0] * 1e9)
    assert dispatch == pytest.approx(192e-6, rel=0.05)
    assert t == pytest.approx(192e-6 + 369e-6, rel=0.06)


def test_normal_kernels_send_a_token_once_per_remote_node():
    big = moe_dispatch_combine_s(16384, 7168, 8, 32, H800, _ep(32))
    per_copy = 16384 * 8 * 7168 * 3 * 31 / 32 / 50e9
    assert big < per_copy / 1.5


def test_experts_touched_and_placed_with_redundant_copies():
    assert expert_touch_fraction(1, 8, 256) == pytest.approx(8 / 256)
    assert expert_touch_fraction(0, 8, 256) == 0.0
    assert local_experts(V3, _ep(144, redundant_experts=32)) == 2  # DeepSeek day 6: 2 routed experts per GPU
    assert local_experts(V3, _ep(32, redundant_experts=32)) == 9


def test_busiest_gpu_carries_more_than_the_mean_and_less_with_eplb():
    big = 128 * 256
    assert expert_load_imbalance(V3, _ep(64), big) > expert_load_imbalance(V3, _ep(64, eplb=True), big) > 1.0
    assert expert_load_imbalance(V3, _ep(64, eplb=True), 8) > expert_load_imbalance(V3, _ep(64, eplb=True), big)
    assert expert_load_imbalance(V3, Deployment(gpu="h800", gpus=8, tp=8), big) == 1.0
