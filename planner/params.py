"""Every tensor in a checkpoint, grouped by component, and the parameter counts derived from them.

The inventory follows the tensor names of the reference implementations (transformers'
modeling_deepseek.py / modeling_llama.py / modeling_qwen2.py, DeepSeek's inference/model.py for the
V3.2 indexer). Each group says how it shards across GPUs and which weight format applies to it, so
the same list drives parameter counts (here) and weight bytes per GPU (`planner.weights`).

DeepSeek-V3's published split is the golden check: 671B main model + 14B MTP module = 685B in the
checkpoint, 37B activated per token (README_WEIGHTS.md of deepseek-ai/DeepSeek-V3).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from planner.model_spec import ModelSpec

__all__ = ["TensorGroup", "ParamCounts", "tensor_inventory", "param_counts", "COMPONENTS"]

Component = Literal[
    "embedding", "attention", "dsa_indexer", "dense_ffn", "routed_experts", "shared_experts",
    "router", "norms", "mtp", "lm_head",
]
COMPONENTS: tuple[str, ...] = (
    "embedding", "attention", "dsa_indexer", "dense_ffn", "routed_experts", "shared_experts",
    "router", "norms", "mtp", "lm_head",
)
# How a tensor is split across GPUs:
#   tp          split over the attention tensor-parallel group (column/row-parallel linear, vocab-parallel)
#   kv_heads    split over min(tp, num_kv_heads): GQA k/v projections replicate once tp exceeds the KV heads
#   experts     split over the MoE group (ep x moe-tp)
#   replicated  every GPU holds a full copy (norms, router gates, MLA down-projections, DSA indexer)
Shard = Literal["tp", "kv_heads", "experts", "replicated"]
# Which weight format a tensor takes under --weights: linear layers quantise, the rest stay bf16.
QuantClass = Literal["attention_linear", "ffn_linear", "bf16"]
# Where a tensor lives: in every decoder layer of a type, on the first/last pipeline stage, or in MTP.
LayerKind = Literal["all_layers", "dense_layers", "moe_layers", "first_stage", "last_stage", "mtp"]


class TensorGroup(BaseModel):
    """`copies` identical matrices of shape rows x cols (cols=1 for vectors) per layer of `layers`."""

    model_config = ConfigDict(frozen=True)

    name: str
    component: str
    rows: int
    cols: int
    copies: int = 1
    layers: LayerKind
    shard: Shard
    quant: QuantClass
    active_fraction: float = 1.0

    def params_per_layer(self) -> int:
        return self.rows * self.cols * self.copies


class ParamCounts(BaseModel):
    """Parameter counts: total (every checkpoint tensor, MTP included), main model, active per token."""

    model_config = ConfigDict(frozen=True)

    total: int
    main: int
    mtp: int
    active: int
    by_component: dict[str, int]


def _attention_groups(spec: ModelSpec, layers: LayerKind) -> list[TensorGroup]:
    h, heads = spec.hidden_size, spec.num_attention_heads
    g: list[TensorGroup] = []
    if spec.attention == "mla":
        q_dim = heads * (spec.qk_nope_head_dim + spec.qk_rope_head_dim)
        if spec.q_lora_rank:
            g += [
                TensorGroup(name="q_a_proj", component="attention", rows=spec.q_lora_rank, cols=h, layers=layers,
                            shard="replicated", quant="attention_linear"),
                TensorGroup(name="q_a_layernorm", component="attention", rows=spec.q_lora_rank, cols=1,
                            layers=layers, shard="replicated", quant="bf16"),
                TensorGroup(name="q_b_proj", component="attention", rows=q_dim, cols=spec.q_lora_rank,
                            layers=layers, shard="tp", quant="attention_linear"),
            ]
        else:
            g.append(TensorGroup(name="q_proj", component="attention", rows=q_dim, cols=h, layers=layers,
                                 shard="tp", quant="attention_linear"))
        g += [
            TensorGroup(name="kv_a_proj_with_mqa", component="attention",
                        rows=spec.kv_lora_rank + spec.qk_rope_head_dim, cols=h, layers=layers,
                        shard="replicated", quant="attention_linear"),
            TensorGroup(name="kv_a_layernorm", component="attention", rows=spec.kv_lora_rank, cols=1,
                        layers=layers, shard="replicated", quant="bf16"),
            TensorGroup(name="kv_b_proj", component="attention", rows=heads * (spec.qk_nope_head_dim + spec.v_head_dim),
                        cols=spec.kv_lora_rank, layers=layers, shard="tp", quant="attention_linear"),
            TensorGroup(name="o_proj", component="attention", rows=h, cols=heads * spec.v_head_dim, layers=layers,
                        shard="tp", quant="attention_linear"),
        ]
    else:
        hd, kv = spec.head_dim, spec.num_kv_heads
        g += [
            TensorGroup(name="q_proj", component="attention", rows=heads * hd, cols=h, layers=layers, shard="tp",
                        quant="attention_linear"),
            TensorGroup(name="k_proj+v_proj", component="attention", rows=kv * hd, cols=h, copies=2, layers=layers,
                        shard="kv_heads", quant="attention_linear"),
            TensorGroup(name="o_proj", component="attention", rows=h, cols=heads * hd, layers=layers, shard="tp",
                        quant="attention_linear"),
        ]
        if spec.qkv_bias:
            g += [
                TensorGroup(name="q_proj.bias", component="attention", rows=heads * hd, cols=1, layers=layers,
                            shard="tp", quant="bf16"),
                TensorGroup(name="k_proj+v_proj.bias", component="attention", rows=kv * hd, cols=1, copies=2,
                            layers=layers, shard="kv_heads", quant="bf16"),
            ]
        if spec.qk_norm:
            g.append(TensorGroup(name="q_norm+k_norm", component="attention", rows=hd, cols=1, copies=2,
                                 layers=layers, shard="replicated", quant="bf16"))
    if spec.has_dsa:
        # DeepSeek-V3.2 inference/model.py Indexer: wq_b (q_lora -> n_heads*head_dim), wk (dim -> head_dim),
        # k_norm (LayerNorm: weight + bias), weights_proj (dim -> n_heads). vLLM keeps them replicated.
        q_in = spec.q_lora_rank or h
        g += [
            TensorGroup(name="indexer.wq_b", component="dsa_indexer", rows=spec.index_n_heads * spec.index_head_dim,
                        cols=q_in, layers=layers, shard="replicated", quant="attention_linear"),
            TensorGroup(name="indexer.wk", component="dsa_indexer", rows=spec.index_head_dim, cols=h, layers=layers,
                        shard="replicated", quant="attention_linear"),
            TensorGroup(name="indexer.k_norm", component="dsa_indexer", rows=spec.index_head_dim, cols=1, copies=2,
                        layers=layers, shard="replicated", quant="bf16"),
            TensorGroup(name="indexer.weights_proj", component="dsa_indexer", rows=spec.index_n_heads, cols=h,
                        layers=layers, shard="replicated", quant="bf16"),
        ]
    g.append(TensorGroup(name="input_layernorm+post_attention_layernorm", component="norms", rows=h, cols=1,
                         copies=2, layers=layers, shard="replicated", quant="bf16"))
    return g


def _moe_groups(spec: ModelSpec, layers: LayerKind) -> list[TensorGroup]:
    h, e = spec.hidden_size, spec.n_routed_experts
    g = [
        TensorGroup(name="experts.gate_up_down", component="routed_experts", rows=spec.moe_intermediate_size, cols=h,
                    copies=3 * e, layers=layers, shard="experts", quant="ffn_linear",
                    active_fraction=spec.num_experts_per_tok / e),
        TensorGroup(name="gate", component="router", rows=e, cols=h, layers=layers, shard="replicated", quant="bf16"),
    ]
    if spec.router_bias:
        g.append(TensorGroup(name="gate.e_score_correction_bias", component="router", rows=e, cols=1, layers=layers,
                             shard="replicated", quant="bf16"))
    if spec.shared_expert_intermediate_size:
        g.append(TensorGroup(name="shared_experts.gate_up_down", component="shared_experts",
                             rows=spec.shared_expert_intermediate_size, cols=h, copies=3, layers=layers, shard="tp",
                             quant="ffn_linear"))
    if spec.shared_expert_gate:
        g.append(TensorGroup(name="shared_expert_gate", component="router", rows=1, cols=h, layers=layers,
                             shard="replicated", quant="bf16"))
    return g


def _dense_ffn_group(spec: ModelSpec, layers: LayerKind, component: str = "dense_ffn") -> TensorGroup:
    return TensorGroup(name="mlp.gate_up_down", component=component, rows=spec.intermediate_size,
                       cols=spec.hidden_size, copies=3, layers=layers, shard="tp", quant="ffn_linear")


def _mtp_groups(spec: ModelSpec) -> list[TensorGroup]:
    """DeepSeek-V3 MTP module (README_WEIGHTS.md): one MoE decoder layer plus enorm, hnorm, eh_proj,
    shared_head.norm, and its own copies of embed_tokens and shared_head.head stored in the checkpoint."""
    h = spec.hidden_size
    layer = _attention_groups(spec, "mtp") + (_moe_groups(spec, "mtp") if spec.is_moe else [_dense_ffn_group(spec, "mtp")])
    extra = [
        TensorGroup(name="eh_proj", component="mtp", rows=h, cols=2 * h, layers="mtp", shard="replicated",
                    quant="attention_linear"),
        TensorGroup(name="enorm+hnorm+shared_head.norm", component="mtp", rows=h, cols=1, copies=3, layers="mtp",
                    shard="replicated", quant="bf16"),
        TensorGroup(name="embed_tokens+shared_head.head", component="mtp", rows=spec.vocab_size, cols=h, copies=2,
                    layers="mtp", shard="tp", quant="bf16"),
    ]
    return [g.model_copy(update={"component": "mtp"}) for g in layer] + extra


@lru_cache(maxsize=64)
def tensor_inventory(spec: ModelSpec) -> tuple[TensorGroup, ...]:
    """All tensor groups of the checkpoint, main model first, then the MTP module(s)."""
    h, v = spec.hidden_size, spec.vocab_size
    groups = [TensorGroup(name="embed_tokens", component="embedding", rows=v, cols=h, layers="first_stage",
                          shard="tp", quant="bf16", active_fraction=0.0)]
    groups += _attention_groups(spec, "all_layers")
    if spec.num_dense_layers:
        groups.append(_dense_ffn_group(spec, "dense_layers"))
    if spec.num_moe_layers:
        groups += _moe_groups(spec, "moe_layers")
    groups.append(TensorGroup(name="norm", component="norms", rows=h, cols=1, layers="last_stage",
                              shard="replicated", quant="bf16"))
    if not spec.tie_word_embeddings:
        groups.append(TensorGroup(name="lm_head", component="lm_head", rows=v, cols=h, layers="last_stage",
                                  shard="tp", quant="bf16"))
    if spec.mtp_layers:
        groups += _mtp_groups(spec)
    return tuple(groups)


def layer_multiplier(spec: ModelSpec, kind: LayerKind) -> int:
    """How many times a group of `kind` occurs in the whole checkpoint."""
    return {
        "all_layers": spec.num_layers,
        "dense_layers": spec.num_dense_layers,
        "moe_layers": spec.num_moe_layers,
        "first_stage": 1,
        "last_stage": 1,
        "mtp": spec.mtp_layers,
    }[kind]


@lru_cache(maxsize=64)
def param_counts(spec: ModelSpec) -> ParamCounts:
    """Total, main-model, MTP and active-per-token parameter counts, and totals per component.

    Active counts every weight a token's forward pass multiplies by (attention, DSA indexer, dense FFN,
    shared experts, top-k of the routed experts, router, norms, lm_head) and leaves out the embedding
    table, which is a lookup; this is the convention of DeepSeek's "37B activated" (README_WEIGHTS.md
    gives 36.7B for the main model excluding embeddings).
    """
    by_component = dict.fromkeys(COMPONENTS, 0)
    main = mtp = 0
    active = 0.0
    for group in tensor_inventory(spec):
        n = group.params_per_layer() * layer_multiplier(spec, group.layers)
        by_component[group.component] += n
        if group.layers == "mtp":
            mtp += n
        else:
            main += n
            active += n * group.active_fraction
    return ParamCounts(total=main + mtp, main=main, mtp=mtp, active=round(active), by_component=by_component)
