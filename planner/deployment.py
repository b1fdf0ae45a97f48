"""A deployment: which GPUs, how many, how the model is split across them, and in which formats.

Parallelism, in the planner's terms (the emitters translate to each engine's flags):
- `tp`: tensor-parallel size of attention (and of dense FFN, shared experts, embedding, lm_head);
- `pp`: pipeline stages, layers split evenly, one stage per `tp x dp` GPUs;
- `dp`: data-parallel ranks; each holds its own KV cache and serves its own requests;
- `dp_attention`: the `dp` ranks form one engine whose MoE layers span all `tp x dp` GPUs of a
  stage (SGLang `--enable-dp-attention`, vLLM `--data-parallel-size` with `--enable-expert-parallel`).
  Without it the `dp` ranks are independent replicas, each with its own copy of the experts;
- `ep`: expert-parallel size; routed experts are split over `ep` GPUs and each expert's width over
  the remaining `moe_tp = moe_group / ep`, where `moe_group` is `tp x dp` with dp-attention and
  `tp` without. EP spanning several nodes is "wide EP" (DeepSeek's EP32 prefill / EP144 decode);
- `redundant_experts`: extra copies of the busiest experts an expert-parallel load balancer places
  (DeepSeek day 6: 32 redundant experts in both pools), and `eplb` whether such a balancer runs
  (SGLang `--enable-eplb`, vLLM `--enable-eplb`); see planner.experts;
- `tbo`: two-batch overlap, each step split in two micro-batches so one's all-to-all hides behind
  the other's compute (SGLang `--enable-two-batch-overlap`, vLLM `--enable-dbo`).
GPUs in all: `tp x pp x dp`.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Deployment", "WeightsDtype", "KvDtype", "WEIGHTS_DTYPES", "KV_DTYPES"]

WeightsDtype = Literal["bf16", "fp8", "int4", "nvfp4"]
KvDtype = Literal["bf16", "fp8"]
WEIGHTS_DTYPES: tuple[str, ...] = ("bf16", "fp8", "int4", "nvfp4")
KV_DTYPES: tuple[str, ...] = ("bf16", "fp8")


class Deployment(BaseModel):
    """One concrete deployment of one model (the `deployment.*` keys of the JSON contract)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpu: str
    gpus: int = Field(ge=1)
    tp: int = Field(default=1, ge=1)
    pp: int = Field(default=1, ge=1)
    dp: int = Field(default=1, ge=1)
    ep: int = Field(default=1, ge=1)
    dp_attention: bool = False
    weights_dtype: WeightsDtype = "bf16"
    kv_dtype: KvDtype = "bf16"
    max_model_len: int = Field(default=4096, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0.0, le=1.0)
    nodes: int = Field(default=1, ge=1)
    gpus_per_node: int = Field(default=8, ge=1)
    redundant_experts: int = Field(default=0, ge=0)
    eplb: bool = False
    tbo: bool = False

    @property
    def moe_group(self) -> int:
        """GPUs one MoE layer's experts are spread over (per pipeline stage)."""
        return self.tp * self.dp if self.dp_attention else self.tp

    @property
    def moe_tp(self) -> int:
        """Tensor-parallel split of each expert's width inside the MoE group."""
        return max(1, self.moe_group // self.ep)

    @property
    def layout(self) -> str:
        """Short parallelism label, e.g. "TP8", "TP8 PP2", "TP1 DP8 EP8 dp-attn"."""
        text = f"TP{self.tp}" + (f" PP{self.pp}" if self.pp > 1 else "") + (f" DP{self.dp}" if self.dp > 1 else "")
        if self.ep > 1:
            text += f" EP{self.ep}"
        text += " dp-attn" if self.dp_attention else ""
        if self.redundant_experts:
            text += f" +{self.redundant_experts}re"
        return text + (" TBO" if self.tbo else "")

    @property
    def ep_spans_nodes(self) -> bool:
        """Expert parallelism over more GPUs than one node holds (wide EP)."""
        return self.ep > self.gpus_per_node

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1

    @staticmethod
    def nodes_for(gpus: int, gpus_per_node: int = 8) -> int:
        return max(1, math.ceil(gpus / gpus_per_node))
