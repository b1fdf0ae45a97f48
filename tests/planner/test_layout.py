"""Parallelism flags to deployments, and --gpus auto's search order."""

from __future__ import annotations

import itertools

import pytest

from planner.catalog import load_gpu, load_model
from planner.errors import PlannerInputError
from planner.layout import auto_gpu_counts, build_deployment, default_layout


def test_auto_counts_go_1_2_4_8_then_whole_nodes():
    assert list(itertools.islice(auto_gpu_counts(8), 7)) == [1, 2, 4, 8, 16, 24, 32]


def test_default_layout_uses_tp_in_a_node_and_pp_across_nodes():
    spec = load_model("deepseek-v3.2")
    assert default_layout(spec, 8, 8) == (8, 1, 1)
    assert default_layout(spec, 16, 8) == (8, 2, 1)
    assert default_layout(load_model("deepseek-r1-distill-qwen-1.5b"), 8, 8) == (4, 1, 2)  # 12 heads


@pytest.mark.parametrize(
    ("gpus", "tp", "pp", "dp", "ep", "dp_attention", "message"),
    [
        (8, 16, None, None, 1, False, "--tp 16 exceeds --gpus 8"),
        (8, 3, None, None, 1, False, "--tp 3 does not divide the 128 attention heads"),
        (8, 4, 1, 1, 1, False, "= 4 GPUs, but --gpus is 8"),
        (8, 8, None, None, 16, False, "--ep 16 must divide the MoE group of 8 GPUs"),
    ],
)
def test_impossible_layouts_are_rejected_with_the_flag_named(gpus, tp, pp, dp, ep, dp_attention, message):
    with pytest.raises(PlannerInputError, match=message.replace("+", r"\+")):
        build_deployment(load_model("deepseek-v3.2"), load_gpu("h200"), gpus, tp, pp, dp, ep=ep, dp_attention=dp_attention)


def test_expert_parallel_on_a_dense_model_is_rejected():
    with pytest.raises(PlannerInputError, match="dense"):
        build_deployment(load_model("deepseek-r1-distill-llama-8b"), load_gpu("h100"), 2, 2, None, None, ep=2)


def test_missing_dp_fills_the_gpu_count():
    dep = build_deployment(load_model("deepseek-v3.2"), load_gpu("h200"), 16, 8, None, None)
    assert (dep.tp, dep.pp, dep.dp, dep.nodes) == (8, 1, 2, 2)
