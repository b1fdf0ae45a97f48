"""Reading Hugging Face config.json files into ModelSpec, for every supported family."""

from __future__ import annotations

import json

import pytest

from planner.catalog import load_model, load_model_config_file
from planner.errors import PlannerInputError
from planner.model_spec import parse_hf_config

MIXTRAL = {  # Mixtral-8x7B-v0.1 config.json shapes
    "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": 32000, "max_position_embeddings": 32768,
}
QWEN2_MOE = {  # Qwen1.5-MoE-A2.7B config.json shapes
    "architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "hidden_size": 2048,
    "intermediate_size": 5632, "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632,
    "num_experts": 60, "num_experts_per_tok": 4, "num_hidden_layers": 24, "num_attention_heads": 16,
    "num_key_value_heads": 16, "vocab_size": 151936, "max_position_embeddings": 8192, "decoder_sparse_step": 1,
    "mlp_only_layers": [],
}
QWEN3 = {  # Qwen3-8B config.json shapes
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 4096, "head_dim": 128,
    "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
    "vocab_size": 151936, "max_position_embeddings": 40960, "tie_word_embeddings": False,
}


def test_deepseek_v32_is_read_as_mla_moe_with_dsa_and_mtp():
    spec = load_model("deepseek-v3.2")
    assert (spec.attention, spec.kv_lora_rank, spec.qk_rope_head_dim) == ("mla", 512, 64)
    assert (spec.n_routed_experts, spec.num_experts_per_tok, spec.num_moe_layers, spec.num_dense_layers) == (256, 8, 58, 3)
    assert (spec.index_n_heads, spec.index_head_dim, spec.index_topk) == (64, 128, 2048)
    assert spec.mtp_layers == 1 and spec.native_weights_dtype == "fp8"


def test_llama_distill_is_read_as_dense_gqa():
    spec = load_model("deepseek-r1-distill-llama-70b")
    assert (spec.attention, spec.num_kv_heads, spec.head_dim, spec.is_moe, spec.qkv_bias) == ("gqa", 8, 128, False, False)


def test_qwen2_gets_qkv_bias_and_qwen3_gets_qk_norm():
    assert load_model("deepseek-r1-distill-qwen-7b").qkv_bias is True
    spec = parse_hf_config(QWEN3, "qwen3-8b")
    assert (spec.qk_norm, spec.head_dim, spec.qkv_bias) == (True, 128, False)


def test_mixtral_makes_every_layer_moe_with_intermediate_as_expert_width():
    spec = parse_hf_config(MIXTRAL, "mixtral")
    assert spec.num_moe_layers == 32 and spec.moe_intermediate_size == 14336 and spec.n_routed_experts == 8


def test_qwen2_moe_reads_shared_expert_and_its_gate():
    spec = parse_hf_config(QWEN2_MOE, "qwen-moe")
    assert (spec.shared_expert_intermediate_size, spec.shared_expert_gate, spec.num_moe_layers) == (5632, True, 24)


def test_malformed_config_names_the_missing_field(tmp_path):
    config = dict(MIXTRAL)
    del config["hidden_size"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(PlannerInputError, match=r"missing field 'hidden_size'"):
        load_model_config_file(str(path))


def test_mla_config_without_rope_dim_names_it():
    hf = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10,
          "max_position_embeddings": 128, "intermediate_size": 32, "kv_lora_rank": 16, "qk_nope_head_dim": 8,
          "v_head_dim": 8}
    with pytest.raises(PlannerInputError, match="missing field 'qk_rope_head_dim'"):
        parse_hf_config(hf, "x")


def test_invalid_json_reports_file_line_and_column(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"hidden_size": 4,\n  oops}')
    with pytest.raises(PlannerInputError, match=r"config.json:2:\d+: invalid JSON"):
        load_model_config_file(str(path))
