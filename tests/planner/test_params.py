"""Parameter counts per component, against published figures and a hand computation."""

from __future__ import annotations

import pytest

from planner.catalog import load_model
from planner.model_spec import parse_hf_config
from planner.params import param_counts


def test_deepseek_v3_main_model_is_671b_and_checkpoint_685b():
    # deepseek-ai/DeepSeek-V3 README: "685B, which includes 671B of the Main Model weights and 14B of
    # the MTP Module weights"; README_WEIGHTS.md: MTP 11.5B unique + shared embedding and head.
    counts = param_counts(load_model("deepseek-v3"))
    assert counts.main == pytest.approx(671e9, rel=0.001)
    assert counts.total == pytest.approx(685e9, rel=0.002)
    assert counts.mtp - 2 * 129280 * 7168 == pytest.approx(11.5e9, rel=0.02)


def test_deepseek_v3_activates_37b_per_token():
    # README_WEIGHTS.md: 36.7B activated in the main model (excluding the embedding lookup)
    assert param_counts(load_model("deepseek-v3")).active == pytest.approx(36.7e9, rel=0.01)


def test_deepseek_v32_is_685b_total_and_37b_active():
    # huggingface.co/deepseek-ai/DeepSeek-V3.2: 685B parameters; "37B activated" as V3 plus the indexer
    counts = param_counts(load_model("deepseek-v3.2"))
    assert round(counts.total / 1e9) == 685
    assert round(counts.active / 1e9) == 37
    assert counts.by_component["dsa_indexer"] == 61 * (1536 * 64 * 128 + 7168 * 128 + 2 * 128 + 7168 * 64)


def test_llama3_70b_is_about_70_6b():
    # Meta Llama-3-70B model card / HF safetensors metadata: 70.6B parameters
    assert param_counts(load_model("deepseek-r1-distill-llama-70b")).total == pytest.approx(70.55e9, rel=0.001)


def test_qwen25_32b_is_32_8b():
    # Qwen2.5 technical report table 1: 32.5B total (HF metadata 32.8B with the untied head)
    assert param_counts(load_model("deepseek-r1-distill-qwen-32b")).total == pytest.approx(32.76e9, rel=0.002)


ODD = {
    "architectures": ["DeepseekV32ForCausalLM"], "model_type": "deepseek_v32", "vocab_size": 777,
    "hidden_size": 1000, "num_hidden_layers": 5, "num_attention_heads": 6, "num_key_value_heads": 6,
    "q_lora_rank": 300, "kv_lora_rank": 100, "qk_nope_head_dim": 20, "qk_rope_head_dim": 12, "v_head_dim": 24,
    "intermediate_size": 1500, "moe_intermediate_size": 130, "n_routed_experts": 7, "num_experts_per_tok": 3,
    "n_shared_experts": 2, "first_k_dense_replace": 2, "moe_layer_freq": 1, "topk_method": "noaux_tc",
    "index_n_heads": 5, "index_head_dim": 40, "index_topk": 64, "num_nextn_predict_layers": 1,
    "tie_word_embeddings": False, "max_position_embeddings": 4096,
}


def test_synthetic_config_with_odd_dimensions_matches_a_hand_count():
    h, v = 1000, 777
    attn = (300 * h + 300 + 6 * 32 * 300          # q_a_proj, q_a_layernorm, q_b_proj (6 heads x (20+12))
            + 112 * h + 100 + 6 * 44 * 100        # kv_a_proj_with_mqa (100+12), kv_a_layernorm, kv_b_proj (20+24)
            + h * 6 * 24)                         # o_proj
    indexer = 5 * 40 * 300 + 40 * h + 2 * 40 + 5 * h
    norms = 2 * h
    dense = 3 * 1500 * h
    moe = 7 * 3 * 130 * h + 7 * h + 7 + 2 * 3 * 130 * h  # experts, gate, correction bias, 2 shared experts
    layer_common = attn + indexer + norms
    main = v * h + 5 * layer_common + 2 * dense + 3 * moe + h + v * h
    mtp = layer_common + moe + h * 2 * h + 3 * h + 2 * v * h
    active = 5 * layer_common + 2 * dense + 3 * (3 * 3 * 130 * h + 7 * h + 7 + 2 * 3 * 130 * h) + h + v * h
    counts = param_counts(parse_hf_config(ODD, "odd"))
    assert (counts.main, counts.mtp, counts.total) == (main, mtp, main + mtp)
    assert counts.active == active
