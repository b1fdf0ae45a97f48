"""Serving-engine profiles: the efficiencies, fixed costs and scheduler in which vLLM, SGLang and TensorRT-LLM differ.

Every number here is a named constant fitted once per engine, across all of that engine's public
measurements in `planner/data/measurements.yaml`, never per data point: `benchmarks/planner_accuracy.py
--fit` refits them and prints in-sample and leave-one-source-out errors. Each profile says which
engine release(s) its points ran. `trtllm` exists so NVIDIA's published TensorRT-LLM runs can
calibrate the hardware side of the model; `planner emit` only writes vLLM and SGLang commands.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from planner.errors import PlannerInputError

__all__ = ["EngineProfile", "engine_profile", "ENGINES", "FITTED_FIELDS"]

FITTED_FIELDS: tuple[str, ...] = (
    "bandwidth_efficiency", "gemm_efficiency", "attention_efficiency", "layer_overhead_s", "step_overhead_s",
    "seq_overhead_s", "request_overhead_s", "frontend_token_s", "comm_overlap",
)
"""The fields benchmarks/planner_accuracy.py fits; the rest are engine defaults read from its source."""


class EngineProfile(BaseModel):
    """How close an engine gets to the hardware, its fixed costs, and the scheduler defaults that shape a step."""

    model_config = ConfigDict(frozen=True)

    name: str
    releases: str
    """Engine releases of the measurements the constants were fitted to."""
    bandwidth_efficiency: float
    """Fraction of datasheet HBM bandwidth that weight and KV reads achieve."""
    gemm_efficiency: float
    """Fraction of dense tensor-core peak that large GEMMs (dense and grouped MoE) achieve."""
    attention_efficiency: float
    """Fraction of dense BF16 peak (FP8 for the DSA indexer) that attention kernels achieve."""
    layer_overhead_s: float
    """Fixed time per decoder layer per step: kernel launches and small ops (norms, rope, routing, quantisation)."""
    step_overhead_s: float
    """Fixed time per engine step: scheduling, input preparation, sampling, host-device sync."""
    seq_overhead_s: float
    """Time per running sequence per step: per-request scheduling, sampling and detokenisation work."""
    request_overhead_s: float
    """CPU time the engine's API server spends on each request before the engine sees it (HTTP, chat
    template, tokenisation, admission). One server handles requests one after another, so a burst of N
    prompts reaches the engine over N x this time, and the server admits at most 1 / this per second."""
    frontend_token_s: float
    """CPU time of the engine's single API-server process per output token (detokenising and streaming);
    it caps what the DP ranks behind one server emit at 1 / frontend_token_s tokens per second."""
    comm_overlap: float
    """Fraction of TP/EP communication hidden behind compute without two-batch overlap (shared experts run
    under the dispatch, fused all-reduce)."""
    scheduler: Literal["mixed", "prefill_first"]
    """`mixed`: prompt chunks share a step with every running decode (vLLM V1 chunked prefill, TensorRT-LLM
    in-flight batching). `prefill_first`: a step is either a prefill batch or a decode step, prefill first
    when prompts wait (SGLang's default scheduler, without --enable-mixed-chunk)."""
    prefill_chunk_tokens: int
    """Tokens one step may take: vLLM's max_num_batched_tokens (8192 for the OpenAI server on >= 70 GiB
    GPUs, vllm/engine/arg_utils.py), SGLang's --chunked-prefill-size (8192 on 80-160 GB GPUs,
    server_args.py), TensorRT-LLM's max_num_tokens (8192, trtllm-serve default)."""
    prefill_chunk_tokens_large_gpu: int
    """The same on GPUs of 160 GB or more (SGLang: 16,384 there, server_args.py; others unchanged)."""
    max_num_seqs: int
    """Default cap on sequences a DP rank runs at once (vLLM EngineArgs.get_batch_defaults: 1024 on
    GPUs of >= 70 GiB other than the A100, else 256; SGLang sizes it from the KV pool)."""
    max_num_seqs_small_gpu: int
    """The same cap on GPUs under 70 GiB, and on the A100."""

    def chunk_tokens(self, gpu_memory_bytes: int) -> int:
        """Prompt tokens one step may take on a GPU of this memory."""
        return self.prefill_chunk_tokens_large_gpu if gpu_memory_bytes >= 160e9 else self.prefill_chunk_tokens


_VLLM = EngineProfile(
    name="vllm",
    releases="vLLM 0.11.0 - 0.13.0 (V1 engine)",
    bandwidth_efficiency=0.36,
    gemm_efficiency=0.18,
    attention_efficiency=0.62,
    layer_overhead_s=9.7e-5,
    step_overhead_s=0.0027,
    seq_overhead_s=1.9e-5,
    request_overhead_s=0.015,
    frontend_token_s=0.00028,
    comm_overlap=0.23,
    scheduler="mixed",
    prefill_chunk_tokens=8192,
    prefill_chunk_tokens_large_gpu=8192,
    max_num_seqs=1024,
    max_num_seqs_small_gpu=256,
)
"""Fitted (one set for all vLLM points, benchmarks/planner_accuracy.py --refit, 2026-12-04) to the vLLM rows
of measurements.yaml: vllm-recipe-v32 (V3.2 TP8 on H20, nightly 2025-12), gpustack-v32-h200 (V3.2 TP8 and
DP8+EP, vLLM 0.13.0) and gpustack-r1-h200 (R1-0528 TP8, vLLM 0.11.0: ShareGPT at concurrency 4 and
bursts). The per-token API-server cost (~0.3 ms) is what caps these single-server bursts near 3,000 tok/s."""
_SGLANG = EngineProfile(
    name="sglang",
    releases="SGLang 0.4.6 - 0.5.8 (LMSYS large-scale EP, GPUStack, cookbook runs)",
    bandwidth_efficiency=0.2,
    gemm_efficiency=0.3,
    attention_efficiency=0.57,
    layer_overhead_s=6.9e-5,
    step_overhead_s=0.0022,
    seq_overhead_s=5.3e-5,
    request_overhead_s=0.016,
    frontend_token_s=5.7e-5,
    comm_overlap=0.31,
    scheduler="prefill_first",
    prefill_chunk_tokens=8192,
    prefill_chunk_tokens_large_gpu=16384,
    max_num_seqs=1024,
    max_num_seqs_small_gpu=256,
)
"""Fitted (2026-12-04) to the SGLang rows of measurements.yaml: gpustack-v32-h200 (V3.2 DP-attention,
0.5.6.post2), gpustack-r1-h200 (R1-0528 TP8, 0.5.3, bursts and MTP), sglang-cookbook-v32-b200 (V3.2-Exp on
B200, 0.5.6), benhamm-sglang-b200-sweep (R1 FP4 at concurrency 1, 0.5.8.post1) and lmsys-large-scale-ep
(96 x H100 PD + DeepEP + EPLB + TBO, 0.4.6). Low bandwidth efficiency is the compromise between the
single-node TP8 runs and the wide-EP LMSYS run, whose decode it underestimates (docs/planner.md)."""
_TRTLLM = EngineProfile(
    name="trtllm",
    releases="TensorRT-LLM 0.19 - 1.1 (NVIDIA tech blogs 1, 3 and 15)",
    bandwidth_efficiency=0.7,
    gemm_efficiency=0.15,
    attention_efficiency=0.4,
    layer_overhead_s=7e-5,
    step_overhead_s=0.0023,
    seq_overhead_s=8.6e-6,
    request_overhead_s=0.021,
    frontend_token_s=2.6e-5,
    comm_overlap=0.3,
    scheduler="mixed",
    prefill_chunk_tokens=8192,
    prefill_chunk_tokens_large_gpu=8192,
    max_num_seqs=2048,
    max_num_seqs_small_gpu=256,
)
"""Fitted (2026-12-04) to NVIDIA's TensorRT-LLM blogs on B200 (nvidia-trtllm-blog1, -blog3, -blog15: R1
min-latency with and without MTP3, R1 max-throughput, V3.2-Exp min-latency and max-throughput). The
published runs use trtllm-bench (no HTTP frontend), hence the small frontend cost."""
_DEEPSEEK = EngineProfile(
    name="deepseek",
    releases="DeepSeek's in-house engine (profile-data 2025-02, day-6 statistics 2025-03-01)",
    bandwidth_efficiency=0.61,
    gemm_efficiency=0.3,
    attention_efficiency=0.4,
    layer_overhead_s=4.8e-5,
    step_overhead_s=0.0019,
    seq_overhead_s=9.9e-6,
    request_overhead_s=0.02,
    frontend_token_s=0.0001,
    comm_overlap=0.3,
    scheduler="prefill_first",
    prefill_chunk_tokens=16384,
    prefill_chunk_tokens_large_gpu=16384,
    max_num_seqs=256,
    max_num_seqs_small_gpu=256,
)
"""Fitted (2026-12-04) to DeepSeek's published profile (deepseek-profile-data, as tabulated by LMSYS) and
its day-6 fleet figures (deepseek-day6), all of them prefill or decode pools of its disaggregated,
wide-EP H800 deployment. It describes what the best
operators' engine reaches; `planner plan` does not search it unless asked (`--engine deepseek`) and
`planner emit` cannot launch it."""
_PROFILES = {p.name: p for p in (_VLLM, _SGLANG, _TRTLLM, _DEEPSEEK)}
ENGINES: tuple[str, ...] = tuple(_PROFILES)


def engine_profile(name: str) -> EngineProfile:
    if name not in _PROFILES:
        raise PlannerInputError(f"unknown engine '{name}'; valid engines: {', '.join(ENGINES)}")
    return _PROFILES[name]
