"""KV-cache bytes per token for MLA (with and without DSA) and GQA, and their split under TP."""

from __future__ import annotations

from planner.catalog import load_model
from planner.kv_cache import kv_bytes_per_token, kv_bytes_per_token_layer, kv_bytes_per_token_layer_per_gpu


def test_deepseek_v3_bf16_mla_cache_is_70272_bytes_per_token():
    # 61 layers x (512 latent + 64 rope) x 2 bytes (DeepSeek-V2 paper, MLA KV cache; widely quoted 70,272 B)
    assert kv_bytes_per_token(load_model("deepseek-v3"), "bf16") == 70_272


def test_deepseek_v3_fp8_cache_is_576_bytes_a_layer():
    # SGLang log "KV Cache is allocated. #tokens: 524288, KV size: 17.16 GB": 17.16 GiB / 524,288 = 35,136 B
    spec = load_model("deepseek-v3")
    assert kv_bytes_per_token(spec, "fp8") == 61 * 576 == 35_136
    assert round(524_288 * 35_136 / 2**30, 2) == 17.16


def test_deepseek_v32_fp8_is_vllms_656_byte_layout_plus_the_132_byte_indexer_key():
    spec = load_model("deepseek-v3.2")
    assert kv_bytes_per_token_layer(spec, "fp8") == 656 + 132
    assert kv_bytes_per_token_layer(spec, "bf16") == 1152 + 132
    # sglang PR 11309: "#tokens: 975424, KV size: 43.67 GB" (SGLang prints GiB) for V3.2-Exp fp8
    assert round(975_424 * kv_bytes_per_token(spec, "fp8") / 2**30, 2) == 43.67


def test_mla_latent_is_replicated_on_every_tp_rank():
    spec = load_model("deepseek-v3")
    assert kv_bytes_per_token_layer_per_gpu(spec, "bf16", tp=8) == 1152


def test_gqa_kv_heads_split_over_tp_until_tp_exceeds_them():
    spec = load_model("deepseek-r1-distill-llama-70b")  # 8 KV heads x 128 dims
    assert kv_bytes_per_token(spec, "bf16") == 80 * 2 * 8 * 128 * 2 == 327_680
    assert kv_bytes_per_token_layer_per_gpu(spec, "bf16", tp=4) == 2 * 2 * 128 * 2
    assert kv_bytes_per_token_layer_per_gpu(spec, "bf16", tp=16) == 2 * 1 * 128 * 2
