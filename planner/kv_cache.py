"""KV-cache bytes per token, per layer, for MLA (with DSA) and GQA models, in bf16 or fp8."""

from __future__ import annotations

from planner.model_spec import ModelSpec

__all__ = ["kv_bytes_per_token_layer", "kv_bytes_per_token", "kv_bytes_per_token_layer_per_gpu",
           "indexer_bytes_per_token_layer", "FP8_DS_MLA_SCALE_GROUP", "INDEXER_SCALE_GROUP"]

# vLLM's `fp8_ds_mla` layout for DeepSeek-V3.2 (FlashMLA sparse): the 512-wide latent in fp8 with one
# fp32 scale per 128 elements, the 64-wide rope key kept in bf16: 512 + 4*4 + 64*2 = 656 bytes a layer.
FP8_DS_MLA_SCALE_GROUP = 128
# DSA lightning-indexer key cache (vLLM DeepseekV32IndexerCache): fp8 keys with one fp32 scale per
# 128 elements: 128 + 4 = 132 bytes a layer; always fp8, whatever --kv-dtype says.
INDEXER_SCALE_GROUP = 128


def indexer_bytes_per_token_layer(spec: ModelSpec) -> int:
    if not spec.has_dsa:
        return 0
    return spec.index_head_dim + (spec.index_head_dim // INDEXER_SCALE_GROUP) * 4


def kv_bytes_per_token_layer(spec: ModelSpec, kv_dtype: str) -> int:
    """Bytes one token adds to one layer's cache, one full copy (all KV heads).

    MLA caches the compressed latent (kv_lora_rank) plus the shared rope key (qk_rope_head_dim):
    DeepSeek-V3 in bf16 is (512 + 64) * 2 = 1,152 bytes a layer, 70,272 bytes a token over 61 layers.
    fp8 stores both in one byte (576), except DSA models, which use vLLM's fp8_ds_mla layout (656).
    GQA caches K and V for every KV head: 2 * kv_heads * head_dim * bytes.
    """
    elem = 2 if kv_dtype == "bf16" else 1
    if spec.attention == "mla":
        if kv_dtype == "fp8" and spec.has_dsa:
            latent = spec.kv_lora_rank + (spec.kv_lora_rank // FP8_DS_MLA_SCALE_GROUP) * 4 + spec.qk_rope_head_dim * 2
        else:
            latent = (spec.kv_lora_rank + spec.qk_rope_head_dim) * elem
        return latent + indexer_bytes_per_token_layer(spec)
    return 2 * spec.num_kv_heads * spec.head_dim * elem


def kv_bytes_per_token_layer_per_gpu(spec: ModelSpec, kv_dtype: str, tp: int) -> int:
    """Bytes one token adds to one layer's cache on one GPU of a `tp`-way group.

    The MLA latent has no head dimension, so every TP rank keeps the whole of it (vLLM and SGLang
    replicate it); GQA KV heads split over TP until TP exceeds their count, then each rank keeps one.
    """
    full = kv_bytes_per_token_layer(spec, kv_dtype)
    if spec.attention == "mla":
        return full
    heads_per_gpu = max(1, spec.num_kv_heads // tp)
    return full * heads_per_gpu // spec.num_kv_heads


def kv_bytes_per_token(spec: ModelSpec, kv_dtype: str) -> int:
    """One token across all layers in one copy of the cache (the JSON contract's kv_bytes_per_token)."""
    return kv_bytes_per_token_layer(spec, kv_dtype) * spec.num_layers
