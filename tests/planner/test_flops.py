"""Attention FLOPs per token (MLA absorbed decode, DSA top-k, GQA) and prefill over a causal prompt."""

from __future__ import annotations

from planner.catalog import load_model
from planner.flops import attended_tokens, compute_dtype, decode_attention_flops, prefill_attention_flops


def test_dsa_attends_to_index_topk_tokens_and_dense_mla_to_all():
    assert attended_tokens(load_model("deepseek-v3.2"), 5000) == 2048
    assert attended_tokens(load_model("deepseek-v3.2"), 700) == 700
    assert attended_tokens(load_model("deepseek-v3"), 5000) == 5000


def test_mla_decode_scores_the_576_wide_latent_and_sums_512_wide_values():
    attention, indexer = decode_attention_flops(load_model("deepseek-v3"), 1000, heads=128)
    assert attention == 128 * (2 * 576 + 2 * 512) * 1000 == 278_528_000
    assert indexer == 0


def test_dsa_decode_adds_the_indexer_over_the_whole_context():
    attention, indexer = decode_attention_flops(load_model("deepseek-v3.2"), 3000, heads=16)
    assert attention == 16 * 2176 * 2048
    assert indexer == 2 * 64 * 128 * 3000 == 49_152_000


def test_gqa_decode_is_four_head_dims_per_head_per_context_token():
    attention, _ = decode_attention_flops(load_model("deepseek-r1-distill-llama-70b"), 100, heads=8)
    assert attention == 8 * 4 * 128 * 100


def test_prefill_sums_the_causal_triangle():
    attention, _ = prefill_attention_flops(load_model("deepseek-v3"), 4, heads=128)
    assert attention == 128 * (2 * 192 + 2 * 128) * (1 + 2 + 3 + 4)


def test_dsa_prefill_caps_each_query_at_topk_and_indexes_the_full_triangle():
    attention, indexer = prefill_attention_flops(load_model("deepseek-v3.2"), 3000, heads=1)
    pairs = 2048 * 2049 / 2 + (3000 - 2048) * 2048
    assert attention == 2176 * pairs
    assert indexer == 2 * 64 * 128 * 3000 * 3001 / 2


def test_formats_map_to_tensor_core_precisions():
    assert [compute_dtype(w) for w in ("bf16", "fp8", "int4", "nvfp4")] == ["bf16", "fp8", "bf16", "fp4"]
