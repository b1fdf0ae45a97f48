"""The one seam between the fleet simulator and the planner's timing model.

`step_time_s(timing, batch, context_tokens, prefill_tokens, prefill_prompt_tokens)` is the only
function the simulator calls for time: one engine step of one DP rank that decodes a token for each
of `batch` running sequences (mean context `context_tokens`) and prefills `prefill_tokens` prompt
tokens of requests whose prompts are `prefill_prompt_tokens` long (chunked prefill, as vLLM V1 and
SGLang schedule it). It is the planner's own op-level step model, the one `planner estimate` and
`planner plan` use (planner.step_model.step_time): every layer once for the decode tokens and the
prefill chunk together (dense GEMMs, touched experts, attention over each sequence's KV cache,
communication, per-layer, per-step and per-sequence overheads), and the API server streaming the
batch's tokens as a floor. Prefill tokens attend to half their prompt on average. Re-point this
module to change the timing model; nothing else in `planner.simulate` reads planner internals. Results are cached per bucketed (batch, context) and prompt length:
batches above 64 and contexts are rounded to about 3% and 6% (a sixteenth of their power of two),
well inside the model's own error.

`ReplicaTiming` also carries what admission needs: KV-cache tokens per DP rank (planner.memory)
and the engine's cap on running sequences (`max_num_seqs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.catalog import load_gpu, load_model
from planner.deployment import Deployment
from planner.engine import EngineProfile, engine_profile
from planner.errors import PlannerInputError
from planner.gpu_spec import GIB, GpuSpec
from planner.layout import build_deployment
from planner.memory import PREFILL_CHUNK_TOKENS, estimate_memory
from planner.model_spec import ModelSpec
from planner.simulate.deployment_spec import DeploymentSpec
from planner.step_model import StepShape, step_time

__all__ = ["ReplicaTiming", "replica_timing", "step_time_s", "bucket_batch", "bucket_tokens"]


def bucket_batch(batch: int) -> int:
    """Exact up to 64 sequences, then rounded to a 32nd of the power of two below (~3%)."""
    if batch <= 64:
        return batch
    quantum = 1 << (batch.bit_length() - 6)
    return (batch + quantum // 2) // quantum * quantum


def bucket_tokens(tokens: float) -> int:
    """Token counts rounded to a 16th of the power of two below them (~6%), at least 16."""
    n = int(tokens)
    if n <= 16:
        return 16
    quantum = 1 << (n.bit_length() - 5)
    return (n + quantum // 2) // quantum * quantum


@dataclass(eq=False, slots=True)
class ReplicaTiming:
    """One replica of a deployment as the simulator sees it; build it with `replica_timing`."""

    spec: DeploymentSpec
    model: ModelSpec
    gpu: GpuSpec
    deployment: Deployment
    engine: EngineProfile
    kv_tokens_per_rank: int
    max_num_seqs: int
    chunk_tokens: int = PREFILL_CHUNK_TOKENS
    _step_s: dict[tuple[int, int, int, int], float] = field(default_factory=dict)

    @property
    def dp_ranks(self) -> int:
        return self.deployment.dp

    @property
    def gpu_hourly_usd(self) -> float:
        """The catalog's price of one GPU-hour (used when the policy gives no `cost`)."""
        return float(self.gpu.usd_per_hour.value or 0.0)


def replica_timing(spec: DeploymentSpec, engine: str | None = None) -> ReplicaTiming:
    """Resolve a deployment like `planner estimate` does; PlannerInputError when it does not fit."""
    model = load_model(spec.model)
    gpu = load_gpu(spec.gpu)
    profile = engine_profile(spec.engine or engine or "vllm")
    kv_dtype = spec.kv_dtype if spec.kv_dtype != "auto" else ("fp8" if model.has_dsa else "bf16")
    dep = build_deployment(
        model, gpu, spec.gpus, spec.tp, spec.pp, spec.dp, ep=spec.ep, dp_attention=spec.dp_attention,
        weights_dtype=spec.weights or model.native_weights_dtype, kv_dtype=kv_dtype,
        max_model_len=spec.max_model_len or model.max_position_embeddings,
        gpu_memory_utilization=spec.gpu_memory_utilization,
    )
    memory = estimate_memory(model, gpu, dep, 1, 1)
    if not memory.fits:
        raise PlannerInputError(f"{spec.label} does not fit: {memory.reason}")
    large = gpu.memory_bytes >= 70 * GIB and not gpu.name.startswith("a100")  # vLLM get_batch_defaults
    cap = spec.max_num_seqs or (profile.max_num_seqs if large else profile.max_num_seqs_small_gpu)
    return ReplicaTiming(spec=spec, model=model, gpu=gpu, deployment=dep, engine=profile,
                         kv_tokens_per_rank=memory.kv_tokens_per_dp_rank, max_num_seqs=cap)


def step_time_s(timing: ReplicaTiming, batch: int, context_tokens: float, prefill_tokens: int = 0,
                prefill_prompt_tokens: int = 0) -> float:
    """Seconds of one engine step of one DP rank (see the module docstring)."""
    if batch <= 0 and prefill_tokens <= 0:
        return 0.0
    seqs = bucket_batch(batch) if batch > 0 else 0
    context = bucket_tokens(context_tokens) if batch > 0 else 0
    chunk = bucket_tokens(prefill_tokens) if prefill_tokens > 0 else 0
    prompt = bucket_tokens(prefill_prompt_tokens or prefill_tokens) if prefill_tokens > 0 else 0
    key = (seqs, context, chunk, prompt)
    cached = timing._step_s.get(key)
    if cached is None:
        shape = StepShape(decode_seqs=seqs, decode_context_tokens=context, prefill_tokens=chunk,
                          prefill_attended_tokens=prompt / 2)
        cached = timing._step_s[key] = step_time(timing.model, timing.gpu, timing.deployment, timing.engine,
                                                 shape).total_s
    return cached
