"""Serving-engine profiles: the defaults and efficiencies in which vLLM, SGLang and TensorRT-LLM differ.

Every efficiency here is a named constant fitted once, across all public measurements listed in
`planner/data/measurements.yaml` for that engine (run `benchmarks/planner_accuracy.py`), never per
data point. `trtllm` exists so NVIDIA's published TensorRT-LLM runs can calibrate the hardware side
of the model; `planner emit` only writes vLLM and SGLang commands.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.errors import PlannerInputError

__all__ = ["EngineProfile", "engine_profile", "ENGINES"]


class EngineProfile(BaseModel):
    """How close an engine gets to the hardware, and the scheduler defaults that bound its batch."""

    model_config = ConfigDict(frozen=True)

    name: str
    bandwidth_efficiency: float
    """Fraction of datasheet HBM bandwidth a decode step's weight and KV reads achieve."""
    decode_compute_efficiency: float
    """Fraction of dense tensor-core peak the decode GEMMs and attention achieve."""
    prefill_compute_efficiency: float
    """Fraction of dense tensor-core peak a prefill achieves (model FLOPs utilisation)."""
    layer_overhead_s: float
    """Fixed time per decoder layer per step: kernel launches and small ops not hidden by CUDA graphs."""
    step_overhead_s: float
    """Fixed time per engine step: scheduling, host-device sync."""
    seq_overhead_s: float
    """Time per running sequence per step: per-request scheduling, sampling and detokenisation work."""
    frontend_token_s: float
    """CPU time of the engine's single API-server process per output token (detokenising and
    streaming); it caps a deployment's output at 1 / frontend_token_s tokens per second."""
    comm_overlap: float
    """Fraction of TP/EP communication hidden behind compute (two-batch overlap, fused all-reduce)."""
    max_num_seqs: int
    """Default cap on sequences a DP rank runs at once (vLLM EngineArgs.get_batch_defaults: 1024 on
    GPUs of >= 70 GiB other than the A100, else 256)."""
    max_num_seqs_small_gpu: int
    """The same cap on GPUs under 70 GiB, and on the A100."""


_VLLM = EngineProfile(
    name="vllm",
    bandwidth_efficiency=0.35,
    decode_compute_efficiency=0.14,
    prefill_compute_efficiency=0.15,
    layer_overhead_s=5e-6,
    step_overhead_s=1e-3,
    seq_overhead_s=2e-6,
    frontend_token_s=300e-6,
    comm_overlap=0.1,
    max_num_seqs=1024,
    max_num_seqs_small_gpu=256,
)
"""Fitted (one set for all vLLM points) to: vllm-recipe-v32-h20 (TP8 H20, 100 requests) and the
gpustack-v32-h200 vLLM rows (TP8 and DP8+EP on H200, ShareGPT-1000 and random 4000/200, 32000/100).
These are vLLM's first DeepSeek-V3.2 (DSA) releases: decode GEMM/attention efficiency is low, and at
~1,000 streams the single API server caps output near 3,300 tok/s (both H200 layouts sit at
2,700-3,000 tok/s with the same ~275 ms TPOT, which GPU work alone cannot explain)."""
_SGLANG = EngineProfile(
    name="sglang",
    bandwidth_efficiency=0.4,
    decode_compute_efficiency=0.28,
    prefill_compute_efficiency=0.15,
    layer_overhead_s=5e-6,
    step_overhead_s=1e-3,
    seq_overhead_s=20e-6,
    frontend_token_s=200e-6,
    comm_overlap=0.8,
    max_num_seqs=1024,
    max_num_seqs_small_gpu=256,
)
"""Fitted to: lmsys-96xh100-decode (DP-attention + DeepEP, 72 x H100 decode nodes), the DeepSeek
profile row of the same LMSYS blog (128 x H800), and gpustack-v32-h200-sglang-dp8-sharegpt."""
_TRTLLM = EngineProfile(
    name="trtllm",
    bandwidth_efficiency=0.85,
    decode_compute_efficiency=0.17,
    prefill_compute_efficiency=0.28,
    layer_overhead_s=80e-6,
    step_overhead_s=2.4e-3,
    seq_overhead_s=37e-6,
    frontend_token_s=5e-6,
    comm_overlap=0.5,
    max_num_seqs=2048,
    max_num_seqs_small_gpu=256,
)
"""Fitted to: NVIDIA's TensorRT-LLM blogs on B200: blog1 min-latency R1 (with and without MTP3),
blog3 max-throughput R1, blog15 V3.2-Exp min-latency and max-throughput. The published runs use
trtllm-bench (no HTTP frontend), hence the small frontend cost. Batch-1 steps of ~9 ms on 8 x B200
show a large fixed cost per layer (~80 us: kernel chain, all-reduce latency, routing)."""
_PROFILES = {p.name: p for p in (_VLLM, _SGLANG, _TRTLLM)}
ENGINES: tuple[str, ...] = tuple(_PROFILES)


def engine_profile(name: str) -> EngineProfile:
    if name not in _PROFILES:
        raise PlannerInputError(f"unknown engine '{name}'; valid engines: {', '.join(ENGINES)}")
    return _PROFILES[name]
