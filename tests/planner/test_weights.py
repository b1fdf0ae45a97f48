"""Weight bytes per format and per GPU under TP, EP, DP-attention and PP."""

from __future__ import annotations

import pytest

from planner.catalog import load_model
from planner.deployment import Deployment
from planner.params import layer_multiplier, tensor_inventory
from planner.weights import checkpoint_bytes, group_format, matrix_bytes, shard_fraction, stage_weight_bytes, weight_bytes_per_gpu


def test_matrix_bytes_count_scales_for_each_format():
    rows, cols = 300, 1000
    assert matrix_bytes(rows, cols, "bf16") == 600_000
    assert matrix_bytes(rows, cols, "fp8") == 300_000 + 3 * 8 * 4  # ceil(300/128) x ceil(1000/128) fp32 block scales
    assert matrix_bytes(rows, cols, "int4") == 150_000 + 300 * 8 * 2  # one bf16 scale per 128 inputs of each row
    assert matrix_bytes(rows, cols, "nvfp4") == 150_000 + 300 * 63 + 8  # fp8 scale per 16, two fp32 tensor scales
    assert matrix_bytes(rows, 1, "fp8") == 600  # vectors stay bf16


def test_deepseek_v3_fp8_checkpoint_is_about_689_gb():
    # 163 safetensors shards, ~689 GB (public-measurements.yaml checkpoint_size.fp8_estimate_bytes 6.89e11)
    assert checkpoint_bytes(load_model("deepseek-v3"), "fp8") == pytest.approx(6.89e11, rel=0.005)


def test_nvfp4_checkpoint_is_about_400_gb():
    # NVIDIA TensorRT-LLM blog3: nvidia/DeepSeek-R1-FP4 "only about 400 GB"
    assert checkpoint_bytes(load_model("deepseek-r1"), "nvfp4") == pytest.approx(400e9, rel=0.02)


def _dep(**kw) -> Deployment:
    base = {"gpu": "h200", "gpus": 8, "tp": 8, "weights_dtype": "fp8"}
    return Deployment(**{**base, **kw})


def test_tp_shards_column_and_row_parallel_weights_and_replicates_norms_gates_and_latent_down_projections():
    spec = load_model("deepseek-v3.2")
    by_name = {g.name: g for g in tensor_inventory(spec)}
    dep = _dep()
    assert shard_fraction(by_name["q_b_proj"], spec, dep) == 1 / 8
    assert shard_fraction(by_name["kv_a_proj_with_mqa"], spec, dep) == 1.0
    assert shard_fraction(by_name["gate"], spec, dep) == 1.0
    assert shard_fraction(by_name["indexer.wq_b"], spec, dep) == 1.0
    assert shard_fraction(by_name["experts.gate_up_down"], spec, dep) == 1 / 8


def test_dp_attention_replicates_attention_per_rank_while_experts_spread_over_ep():
    spec = load_model("deepseek-v3.2")
    tp8 = weight_bytes_per_gpu(spec, _dep())
    dp8 = weight_bytes_per_gpu(spec, _dep(tp=1, dp=8, ep=8, dp_attention=True))
    tp_sharded = sum(
        matrix_bytes(g.rows, g.cols, group_format(g, "fp8")) * g.copies * layer_multiplier(spec, g.layers)
        for g in tensor_inventory(spec) if g.shard == "tp" and g.layers != "mtp"
    )
    # experts are 1/8 per GPU either way; what TP8 split eight ways is whole on every DP rank
    assert dp8 - tp8 == pytest.approx(tp_sharded * 7 / 8, rel=1e-9)


def test_without_dp_attention_each_dp_replica_holds_all_experts():
    spec = load_model("deepseek-r1-distill-llama-70b")
    one = weight_bytes_per_gpu(spec, _dep(gpus=4, tp=4, weights_dtype="bf16"))
    two_replicas = weight_bytes_per_gpu(spec, _dep(gpus=8, tp=4, dp=2, weights_dtype="bf16"))
    assert one == two_replicas


def test_gqa_kv_projections_replicate_once_tp_exceeds_kv_heads():
    spec = load_model("deepseek-r1-distill-llama-70b")
    kv = next(g for g in tensor_inventory(spec) if g.name == "k_proj+v_proj")
    assert shard_fraction(kv, spec, _dep(gpus=16, tp=16)) == 1 / 8


def test_pipeline_stages_split_layers_and_put_embedding_first_and_head_last():
    spec = load_model("deepseek-v3")
    stages = stage_weight_bytes(spec, _dep(gpus=16, tp=8, pp=2))
    full = weight_bytes_per_gpu(spec, _dep())
    assert len(stages) == 2
    assert sum(stages) == pytest.approx(full, rel=0.001)
