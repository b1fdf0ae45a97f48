"""Floating-point work: attention FLOPs per token (MLA, DSA, GQA) and the math precision of each format.

Conventions: one multiply-add = 2 FLOPs; a linear layer costs 2 x parameters FLOPs per token
(Kaplan et al. 2020, "Scaling Laws", section 2.1); linear-layer FLOPs are computed in `planner.step_model`
and `planner.prefill` from the tensor inventory, so only attention over the context lives here.
"""

from __future__ import annotations

from planner.model_spec import ModelSpec

__all__ = ["decode_attention_flops", "prefill_attention_flops", "attended_tokens", "compute_dtype"]


def attended_tokens(spec: ModelSpec, context_tokens: float) -> float:
    """Tokens one query attends to: the whole context, or DSA's `index_topk` selected tokens."""
    if spec.has_dsa:
        return min(context_tokens, float(spec.index_topk))
    return context_tokens


def decode_attention_flops(spec: ModelSpec, context_tokens: float, heads: int) -> tuple[float, float]:
    """(attention, indexer) FLOPs for one new token in one layer, over `heads` query heads.

    MLA decodes in the absorbed form (DeepSeek-V2 paper, section 2.1.3; FlashMLA): each head scores
    the (kv_lora_rank + rope)-wide latent and sums the kv_lora_rank-wide values, so
    2 x (kv_lora + rope) + 2 x kv_lora FLOPs per head per attended token.
    DSA's lightning indexer scores every context token with index_n_heads x index_head_dim
    (DeepSeek-V3.2-Exp paper, eq. 1); it is replicated, so it runs for all its heads on every rank.
    GQA: 2 x head_dim for q.k and 2 x head_dim for p.v per head per context token.
    """
    if spec.attention == "mla":
        per_head = 2 * (spec.kv_lora_rank + spec.qk_rope_head_dim) + 2 * spec.kv_lora_rank
        attention = heads * per_head * attended_tokens(spec, context_tokens)
    else:
        attention = heads * 4 * spec.head_dim * context_tokens
    indexer = 2.0 * spec.index_n_heads * spec.index_head_dim * context_tokens if spec.has_dsa else 0.0
    return attention, indexer


def _causal_attended_sum(spec: ModelSpec, prompt_tokens: int) -> float:
    """Sum over prompt positions p = 1..n of the tokens position p attends to."""
    n = prompt_tokens
    if not spec.has_dsa or n <= spec.index_topk:
        return n * (n + 1) / 2
    k = spec.index_topk
    return k * (k + 1) / 2 + (n - k) * k


def prefill_attention_flops(spec: ModelSpec, prompt_tokens: int, heads: int) -> tuple[float, float]:
    """(attention, indexer) FLOPs for a whole causal prompt in one layer, over `heads` query heads.

    Dense MLA prefills in the non-absorbed multi-head form: per head 2 x (qk_nope + qk_rope) for
    scores and 2 x v_head_dim for values per attended pair. DSA prefill runs sparse MLA in the
    latent (absorbed) form over at most index_topk tokens per query, as FlashMLA's sparse kernels do,
    plus the indexer over the full causal triangle.
    """
    pairs = _causal_attended_sum(spec, prompt_tokens)
    if spec.attention == "mla":
        if spec.has_dsa:
            per_head = 2 * (spec.kv_lora_rank + spec.qk_rope_head_dim) + 2 * spec.kv_lora_rank
        else:
            per_head = 2 * (spec.qk_nope_head_dim + spec.qk_rope_head_dim) + 2 * spec.v_head_dim
    else:
        per_head = 4 * spec.head_dim
    attention = heads * per_head * pairs
    full_pairs = prompt_tokens * (prompt_tokens + 1) / 2
    indexer = 2.0 * spec.index_n_heads * spec.index_head_dim * full_pairs if spec.has_dsa else 0.0
    return attention, indexer


def compute_dtype(weights_dtype: str) -> str:
    """Tensor-core precision the GEMMs run in: W8A8 fp8, NVFP4 W4A4, int4 as W4A16 (bf16 math)."""
    return {"fp8": "fp8", "nvfp4": "fp4", "int4": "bf16", "bf16": "bf16"}[weights_dtype]
