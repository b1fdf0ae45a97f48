"""One model's architecture, read from a Hugging Face `config.json` into a frozen pydantic model.

Supported families (detected from the keys present, not from the model's name):
- DeepSeek-V2/V3/V3.1/V3.2 and GLM-5 style: MLA attention (`kv_lora_rank`), DeepSeekMoE
  (`n_routed_experts`, `first_k_dense_replace`), DSA indexer (`index_topk`), MTP layers
  (`num_nextn_predict_layers`);
- Llama / Qwen2 / Qwen3 dense GQA models;
- Mixtral (`num_local_experts`) and Qwen2-MoE / Qwen3-MoE (`num_experts`) mixture-of-experts models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from planner.errors import PlannerInputError

__all__ = ["ModelSpec", "parse_hf_config"]

# Qwen2 checkpoints carry q/k/v biases without saying so in config.json (transformers' Qwen2Attention).
_QKV_BIAS_MODEL_TYPES = frozenset({"qwen2", "qwen2_moe"})
# Qwen3 adds per-head RMSNorm on q and k (transformers' Qwen3Attention.q_norm / k_norm).
_QK_NORM_MODEL_TYPES = frozenset({"qwen3", "qwen3_moe"})


class ModelSpec(BaseModel):
    """Architecture figures the planner needs, in the config's own units (counts, not bytes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    architecture: str
    model_type: str
    attention: Literal["mla", "gqa"]
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    qkv_bias: bool = False
    qk_norm: bool = False
    # MLA (DeepSeek-V2/V3): latent ranks and head splits.
    q_lora_rank: int | None = None
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # Dense feed-forward width (dense layers) and MoE.
    intermediate_size: int
    n_routed_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    shared_expert_gate: bool = False
    router_bias: bool = False
    moe_layer_mask: tuple[bool, ...] = ()
    # DSA (DeepSeek Sparse Attention) lightning indexer.
    index_n_heads: int = 0
    index_head_dim: int = 0
    index_topk: int = 0
    mtp_layers: int = 0
    tie_word_embeddings: bool = False
    max_position_embeddings: int
    native_weights_dtype: Literal["bf16", "fp8"] = "bf16"

    @property
    def is_moe(self) -> bool:
        return self.n_routed_experts > 0

    @property
    def has_dsa(self) -> bool:
        return self.index_topk > 0

    @property
    def num_moe_layers(self) -> int:
        return sum(self.moe_layer_mask)

    @property
    def num_dense_layers(self) -> int:
        return self.num_layers - self.num_moe_layers


def _require(config: dict[str, Any], key: str, where: str) -> Any:
    value = config.get(key)
    if value is None:
        raise PlannerInputError(f"{where}: missing field '{key}'")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PlannerInputError(f"{where}: field '{key}' must be a positive integer, got {value!r}")
    return value


def _optional_int(config: dict[str, Any], key: str, default: int, where: str) -> int:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PlannerInputError(f"{where}: field '{key}' must be a non-negative integer, got {value!r}")
    return value


def _moe_layer_mask(config: dict[str, Any], num_layers: int, where: str) -> tuple[bool, ...]:
    """Which decoder layers use MoE, following each family's rule in vLLM/transformers."""
    if config.get("num_local_experts"):  # Mixtral: every layer
        return (True,) * num_layers
    if config.get("n_routed_experts"):  # DeepSeek/GLM: dense first k, then every moe_layer_freq-th
        first_dense = _optional_int(config, "first_k_dense_replace", 0, where)
        freq = _optional_int(config, "moe_layer_freq", 1, where) or 1
        return tuple(i >= first_dense and i % freq == 0 for i in range(num_layers))
    if config.get("num_experts"):  # Qwen2-MoE / Qwen3-MoE
        step = _optional_int(config, "decoder_sparse_step", 1, where) or 1
        dense_only = set(config.get("mlp_only_layers") or [])
        return tuple(i not in dense_only and (i + 1) % step == 0 for i in range(num_layers))
    return (False,) * num_layers


def _native_dtype(config: dict[str, Any]) -> Literal["bf16", "fp8"]:
    quant = config.get("quantization_config") or {}
    return "fp8" if isinstance(quant, dict) and quant.get("quant_method") == "fp8" else "bf16"


def parse_hf_config(config: dict[str, Any], name: str, where: str | None = None) -> ModelSpec:
    """Build a `ModelSpec` from a Hugging Face config.json dict; a missing field names itself."""
    where = where or f"config.json of {name}"
    if not isinstance(config, dict):
        raise PlannerInputError(f"{where}: expected a JSON object")
    if isinstance(config.get("text_config"), dict) and "hidden_size" not in config:
        config = {**config["text_config"], **{k: v for k, v in config.items() if k != "text_config"}}
    hidden = _require(config, "hidden_size", where)
    layers = _require(config, "num_hidden_layers", where)
    heads = _require(config, "num_attention_heads", where)
    vocab = _require(config, "vocab_size", where)
    model_type = str(config.get("model_type", "unknown"))
    architectures = config.get("architectures") or [model_type]
    common: dict[str, Any] = {
        "name": name,
        "architecture": str(architectures[0]),
        "model_type": model_type,
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_layers": layers,
        "num_attention_heads": heads,
        "tie_word_embeddings": bool(config.get("tie_word_embeddings", False)),
        "max_position_embeddings": _require(config, "max_position_embeddings", where),
        "native_weights_dtype": _native_dtype(config),
        "moe_layer_mask": _moe_layer_mask(config, layers, where),
    }
    if "kv_lora_rank" in config:
        common.update(_mla_fields(config, where))
    else:
        kv_heads = _optional_int(config, "num_key_value_heads", heads, where) or heads
        if heads % kv_heads:
            raise PlannerInputError(f"{where}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}")
        head_dim = _optional_int(config, "head_dim", 0, where) or hidden // heads
        common.update(
            attention="gqa",
            num_kv_heads=kv_heads,
            head_dim=head_dim,
            qkv_bias=bool(config.get("attention_bias", model_type in _QKV_BIAS_MODEL_TYPES)),
            qk_norm=model_type in _QK_NORM_MODEL_TYPES,
        )
    common.update(_ffn_fields(config, where))
    common.update(
        index_n_heads=_optional_int(config, "index_n_heads", 0, where),
        index_head_dim=_optional_int(config, "index_head_dim", 0, where),
        index_topk=_optional_int(config, "index_topk", 0, where),
        mtp_layers=_optional_int(config, "num_nextn_predict_layers", 0, where),
    )
    if common["index_topk"] and not (common["index_n_heads"] and common["index_head_dim"]):
        missing = "index_n_heads" if not common["index_n_heads"] else "index_head_dim"
        raise PlannerInputError(f"{where}: missing field '{missing}' (needed with index_topk)")
    return ModelSpec(**common)


def _mla_fields(config: dict[str, Any], where: str) -> dict[str, Any]:
    nope = _require(config, "qk_nope_head_dim", where)
    rope = _require(config, "qk_rope_head_dim", where)
    q_lora = config.get("q_lora_rank")
    return {
        "attention": "mla",
        "num_kv_heads": config["num_attention_heads"],
        "head_dim": nope + rope,
        "q_lora_rank": _require(config, "q_lora_rank", where) if q_lora is not None else None,
        "kv_lora_rank": _require(config, "kv_lora_rank", where),
        "qk_nope_head_dim": nope,
        "qk_rope_head_dim": rope,
        "v_head_dim": _require(config, "v_head_dim", where),
    }


def _ffn_fields(config: dict[str, Any], where: str) -> dict[str, Any]:
    if config.get("num_local_experts"):  # Mixtral: intermediate_size is each expert's width
        expert_width = _require(config, "intermediate_size", where)
        return {
            "intermediate_size": expert_width,
            "n_routed_experts": _require(config, "num_local_experts", where),
            "num_experts_per_tok": _require(config, "num_experts_per_tok", where),
            "moe_intermediate_size": expert_width,
        }
    fields: dict[str, Any] = {"intermediate_size": _optional_int(config, "intermediate_size", 0, where)}
    experts = config.get("n_routed_experts") or config.get("num_experts")
    if experts:
        key = "n_routed_experts" if config.get("n_routed_experts") else "num_experts"
        width = _require(config, "moe_intermediate_size", where)
        shared = _optional_int(config, "n_shared_experts", 0, where) * width
        shared = _optional_int(config, "shared_expert_intermediate_size", shared, where)
        fields.update(
            n_routed_experts=_require(config, key, where),
            num_experts_per_tok=_require(config, "num_experts_per_tok", where),
            moe_intermediate_size=width,
            shared_expert_intermediate_size=shared,
            shared_expert_gate="shared_expert_intermediate_size" in config and shared > 0,
            router_bias=config.get("topk_method") == "noaux_tc",
        )
        if fields["intermediate_size"] == 0 and any(not m for m in _moe_layer_mask(config, config["num_hidden_layers"], where)):
            _require(config, "intermediate_size", where)
    elif fields["intermediate_size"] == 0:
        _require(config, "intermediate_size", where)
    return fields
