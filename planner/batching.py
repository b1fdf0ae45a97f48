"""Continuous batching: TTFT, TPOT and throughput at a concurrency, at an arrival rate, or over a benchmark run.

Steady state per DP rank (`RankModel`, used by `planner plan` and by `estimate --concurrency/--rps`):
- a running batch of `b` sequences advances one token (MTP: `accepted` tokens) per decode step
  `t_d(b)` (planner.step_model, at the mean context: prompt plus half the output);
- prefill takes a share rho = X x prompt / P of the rank's time, where X is the rank's request rate and
  P its prefill rate at the engine's chunk size, so decode advances only in the rest: TPOT = t_d / (1 - rho);
- TTFT = the engine's per-request overhead + the prompt's own prefill + the M/D/1 queueing wait for
  earlier prompts (rho x S / (2 (1 - rho)), Kleinrock, Queueing Systems vol. 1, Pollaczek-Khinchine) +
  one decode step;
- closed loop (Little's law): X = b / (TTFT + (output_len - 1) x TPOT); requests above the batch cap
  (`max_num_seqs`, or the KV cache) wait in a queue, adding (c - b) / X to their TTFT;
- open loop (`--rps`): the batch where X(b) equals the offered rate; a rate above X at the largest batch
  the rank can run is reported as overload.
A benchmark run of N prompts (`Workload.benchmark_prompts`, or `burst`) is replayed step by step by
planner.scheduler instead, which is what published figures measure.
Decode-only pools of a disaggregated deployment (`disaggregated_decode`) have no prefill interference.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.deployment import Deployment
from planner.engine import EngineProfile
from planner.gpu_spec import GIB, GpuSpec
from planner.model_spec import ModelSpec
from planner.scheduler import BenchmarkRun, simulate_run
from planner.speculative import accepted_tokens_per_step
from planner.step_model import decode_step_s, prefill_step_s

__all__ = [
    "Workload", "PerformanceEstimate", "RankModel", "RankPoint", "estimate_performance", "max_batch_per_rank",
    "MAX_PREFILL_SHARE", "KNEE_THROUGHPUT_FRACTION",
]

KNEE_THROUGHPUT_FRACTION = 0.95
"""Without --concurrency or --rps, the estimate runs at the smallest batch (from a doubling ladder)
that reaches this share of the largest batch's throughput: past that knee, more concurrency buys
latency, not throughput."""

MAX_PREFILL_SHARE = 0.98
"""Prefill may take at most this share of a rank's time; at the limit decode barely advances."""

_BISECTION_ROUNDS = 30


class Workload(BaseModel):
    """Request shape and load: lengths in tokens, and either a concurrency or an arrival rate."""

    model_config = ConfigDict(frozen=True)

    input_len: int
    output_len: int
    concurrency: int | None = None
    rps: float | None = None
    mtp: int = 0
    disaggregated_decode: bool = False
    """Decode-only instances (prefill elsewhere, PD disaggregation): no prefill interference."""
    burst: bool = False
    """All `concurrency` requests arrive at once and each is served once (a benchmark run with
    request rate `inf`, as `vllm bench serve` does by default); replayed step by step."""
    benchmark_prompts: int | None = None
    """Replay a benchmark of this many prompts: `concurrency` closed-loop clients, or `rps` evenly spaced."""
    cached_input_tokens: int = 0
    """Prompt tokens that hit the prefix cache (attended, not recomputed)."""
    mtp_accepted_tokens: float | None = None
    """Measured tokens per verification step, replacing the published MTP table (acceptance depends on the data)."""


class PerformanceEstimate(BaseModel):
    """The `performance.*` keys of the JSON contract, plus the figures behind them."""

    model_config = ConfigDict(frozen=True)

    ttft_ms: float
    tpot_ms: float
    prefill_tokens_per_s: float
    output_tokens_per_s: float
    output_tokens_per_s_per_gpu: float
    output_tokens_per_s_per_user: float
    requests_per_s: float
    concurrency: int
    running_batch_per_dp_rank: float
    max_batch_per_dp_rank: int
    max_requests_per_s: float
    prefill_share: float
    overloaded: bool
    note: str | None
    engine: str
    mtp_accepted_tokens_per_step: float
    decode_step_ms: float
    replayed_prompts: int | None = None
    """Set when the figures come from a step-by-step replay of a benchmark run of this many prompts."""
    prefill_tokens_per_s_per_gpu: float = 0.0


class RankPoint(BaseModel):
    """One steady state of a DP rank: its running batch, latencies and request rate."""

    model_config = ConfigDict(frozen=True)

    batch: float
    ttft_s: float
    tpot_s: float
    requests_per_s: float
    prefill_share: float
    step_s: float


class RankModel:
    """Steady state of one DP rank for this model, deployment and workload."""

    def __init__(self, spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, load: Workload):
        self.spec, self.gpu, self.dep, self.engine, self.load = spec, gpu, dep, engine, load
        self.context = load.input_len + load.output_len / 2
        self.accepted = load.mtp_accepted_tokens or accepted_tokens_per_step(load.mtp)
        self.prompt = max(1, load.input_len - load.cached_input_tokens)
        chunk = min(self.prompt, engine.chunk_tokens(gpu.memory_bytes))
        attended = load.cached_input_tokens + self.prompt / 2
        self.prefill_alone_s = prefill_step_s(spec, gpu, dep, engine, self.prompt, attended)
        chunk_s = prefill_step_s(spec, gpu, dep, engine, chunk, attended)
        self.prefill_capacity = chunk / chunk_s
        self._tpot_cache: dict[float, tuple[float, float]] = {}

    def raw_tpot(self, batch: float) -> tuple[float, float]:
        """(TPOT, decode step seconds) without prefill interference."""
        key = round(batch, 6)
        if key not in self._tpot_cache:
            step = decode_step_s(self.spec, self.gpu, self.dep, self.engine, batch, self.context, self.load.mtp,
                                 frontend=not self.load.disaggregated_decode)
            self._tpot_cache[key] = (step / self.accepted, step)
        return self._tpot_cache[key]

    def at_batch(self, batch: float, waiting: float = 0.0) -> RankPoint:
        """Steady state with `batch` sequences running: solve for the prefill share rho by bisection.

        Given rho, TPOT = t_d / (1 - rho), TTFT = overhead + S + rho S / (2 (1 - rho)) + t_d and the
        request rate is X = b / (TTFT + (out - 1) TPOT); the consistent rho satisfies rho = X prompt / P.
        The implied rho falls as rho rises, so the root is unique.
        """
        out = self.load.output_len
        tpot0, step = self.raw_tpot(batch)
        overhead = self.engine.request_overhead_s

        def state(rho: float) -> tuple[float, float, float]:
            tpot = tpot0 / (1.0 - rho)
            ttft = overhead + self.prefill_alone_s * (1.0 + rho / (2.0 * (1.0 - rho))) + step
            return tpot, ttft, batch / (ttft + max(out - 1, 0) * tpot)

        if self.load.disaggregated_decode:  # prefill runs on other GPUs; TTFT here is one step
            tpot, ttft, rho = tpot0, step, 0.0
            rate = batch / (max(out - 1, 1) * tpot + step)
        else:
            low, high = 0.0, MAX_PREFILL_SHARE
            for _ in range(_BISECTION_ROUNDS):
                mid = (low + high) / 2
                if state(mid)[2] * self.prompt / self.prefill_capacity > mid:
                    low = mid
                else:
                    high = mid
            rho = high
            tpot, ttft, rate = state(rho)
        if waiting > 0 and rate > 0:
            ttft += waiting / rate
        return RankPoint.model_construct(batch=float(batch), ttft_s=ttft, tpot_s=tpot, requests_per_s=rate,
                                         prefill_share=rho, step_s=step)

    def batch_for_rate(self, rate: float, max_batch: int) -> RankPoint:
        """The running batch at which this rank completes `rate` requests a second (bisection)."""
        low, high = 1e-3, float(max_batch)
        for _ in range(50):
            mid = (low + high) / 2
            if self.at_batch(mid).requests_per_s < rate:
                low = mid
            else:
                high = mid
        return self.at_batch(high)


def _knee_batch(rank: RankModel, max_batch: int, saturated: RankPoint) -> int:
    batch = 1
    while batch < max_batch:
        if rank.at_batch(batch).requests_per_s >= KNEE_THROUGHPUT_FRACTION * saturated.requests_per_s:
            return batch
        batch *= 2
    return max_batch


def max_batch_per_rank(gpu: GpuSpec, engine: EngineProfile, kv_tokens_per_rank: int, load: Workload) -> int:
    """Sequences a DP rank can run at once: the engine's max_num_seqs and what the KV cache holds.

    Engines allocate KV blocks as sequences grow (vLLM PagedAttention), so a running sequence holds
    on average its prompt plus half its output.
    """
    # vLLM EngineArgs.get_batch_defaults: >= 70 GiB and not an A100 -> the large default
    large = gpu.memory_bytes >= 70 * GIB and not gpu.name.startswith("a100")
    cap = engine.max_num_seqs if large else engine.max_num_seqs_small_gpu
    return max(0, min(cap, int(kv_tokens_per_rank // (load.input_len + load.output_len / 2))))


def _replay(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile, load: Workload,
            max_batch: int) -> tuple[RankPoint, int, int]:
    prompts = load.benchmark_prompts or load.concurrency or 1
    if load.burst:
        run = BenchmarkRun(input_len=load.input_len, output_len=load.output_len, requests=prompts, arrival="burst",
                           mtp=load.mtp, cached_input_tokens=load.cached_input_tokens,
                           mtp_accepted_tokens=load.mtp_accepted_tokens)
    elif load.rps is not None:
        run = BenchmarkRun(input_len=load.input_len, output_len=load.output_len, requests=prompts, arrival="rate",
                           request_rate=load.rps, mtp=load.mtp, cached_input_tokens=load.cached_input_tokens,
                           mtp_accepted_tokens=load.mtp_accepted_tokens)
    else:
        run = BenchmarkRun(input_len=load.input_len, output_len=load.output_len, requests=prompts,
                           arrival="closed_loop", concurrency=load.concurrency or prompts, mtp=load.mtp,
                           cached_input_tokens=load.cached_input_tokens, mtp_accepted_tokens=load.mtp_accepted_tokens)
    result = simulate_run(spec, gpu, dep, engine, run, max_batch, frontend=not load.disaggregated_decode)
    rate = result.output_tokens_per_s / load.output_len / dep.dp
    point = RankPoint(batch=result.mean_running, ttft_s=result.mean_ttft_s, tpot_s=result.mean_tpot_s or 1e-9,
                      requests_per_s=rate, prefill_share=0.0, step_s=0.0)
    concurrency = load.concurrency or (round(load.rps * (result.mean_ttft_s + load.output_len * result.mean_tpot_s))
                                       if load.rps else prompts)
    return point, concurrency, result.requests


def estimate_performance(
    spec: ModelSpec,
    gpu: GpuSpec,
    dep: Deployment,
    engine: EngineProfile,
    load: Workload,
    kv_tokens_per_rank: int,
) -> PerformanceEstimate:
    """Latency and throughput of the deployment for the workload; default load = the knee of the batch ladder."""
    rank = RankModel(spec, gpu, dep, engine, load)
    max_batch = max(1, max_batch_per_rank(gpu, engine, kv_tokens_per_rank, load))
    saturated = rank.at_batch(max_batch)
    max_rps = saturated.requests_per_s * dep.dp
    note = None
    overloaded = False
    replayed = None
    if load.burst or load.benchmark_prompts:
        point, concurrency, replayed = _replay(spec, gpu, dep, engine, load, max_batch)
        point = point.model_copy(update={"step_s": rank.raw_tpot(max(1.0, min(point.batch, max_batch)))[1]})
    elif load.rps is not None:
        if load.rps >= max_rps:
            overloaded = True
            point = saturated
            note = (
                f"offered load {load.rps:g} req/s exceeds capacity {max_rps:.3g} req/s "
                f"({max_batch} sequences per DP rank); the queue grows without bound"
            )
        else:
            point = rank.batch_for_rate(load.rps / dep.dp, max_batch)
        concurrency = round(point.batch * dep.dp)
    else:
        concurrency = load.concurrency if load.concurrency is not None else _knee_batch(rank, max_batch, saturated) * dep.dp
        per_rank = concurrency / dep.dp
        running = min(per_rank, float(max_batch))
        point = rank.at_batch(running, waiting=per_rank - running)
        if per_rank > max_batch:
            note = f"{per_rank:g} requests per DP rank but only {max_batch} run at once; the rest queue (TTFT includes the wait)"
    output_tps = point.requests_per_s * dep.dp * load.output_len
    prefill_tps = rank.prefill_capacity * dep.dp
    return PerformanceEstimate(
        ttft_ms=round(point.ttft_s * 1e3, 3),
        tpot_ms=round(point.tpot_s * 1e3, 3),
        prefill_tokens_per_s=round(prefill_tps, 1),
        output_tokens_per_s=round(output_tps, 2),
        output_tokens_per_s_per_gpu=round(output_tps / dep.gpus, 3),
        output_tokens_per_s_per_user=round(1.0 / point.tpot_s, 3) if point.tpot_s > 0 else 0.0,
        requests_per_s=round(point.requests_per_s * dep.dp, 4),
        concurrency=concurrency,
        running_batch_per_dp_rank=round(point.batch, 3),
        max_batch_per_dp_rank=max_batch,
        max_requests_per_s=round(max_rps, 4),
        prefill_share=round(point.prefill_share, 4),
        overloaded=overloaded,
        note=note,
        engine=engine.name,
        mtp_accepted_tokens_per_step=rank.accepted,
        decode_step_ms=round(point.step_s * 1e3, 3),
        replayed_prompts=replayed,
        prefill_tokens_per_s_per_gpu=round(prefill_tps / dep.gpus, 1),
    )

