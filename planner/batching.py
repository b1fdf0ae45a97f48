"""Continuous batching: TTFT, TPOT and throughput at a concurrency, or at an arrival rate with queueing.

Per DP rank, in steady state (vLLM/SGLang schedule prefill chunks into decode steps):
- a running batch of `b` sequences advances one token per decode round `t_d(b)` (planner.decode);
- prefill takes a share rho = X x input_len / P of the rank's time, where X is the rank's request
  rate and P its prefill capacity, so decode advances only in the rest: TPOT = t_d(b) / (1 - rho);
- TTFT = prefill of the prompt alone + the M/D/1 queueing wait for earlier prompts
  (rho x S / (2 (1 - rho)), Kleinrock, Queueing Systems vol. 1, Pollaczek-Khinchine) + one step;
- closed loop (Little's law): X = b / (TTFT + (output_len - 1) x TPOT); requests above the batch
  cap (`max_num_seqs`, or the KV cache) wait in a queue, adding (c - b) / X to their TTFT;
- open loop (`--rps`): find the batch where X(b) equals the offered rate; when the rate exceeds
  X at the largest batch the rank can run, the load exceeds capacity and that is reported.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.decode import decode_round, decode_step
from planner.deployment import Deployment
from planner.engine import EngineProfile
from planner.gpu_spec import GIB, GpuSpec
from planner.memory import PREFILL_CHUNK_TOKENS
from planner.model_spec import ModelSpec
from planner.prefill import prefill_capacity_tokens_per_s, prefill_time_s
from planner.speculative import accepted_tokens_per_step

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

_BISECTION_ROUNDS = 40


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
    request rate `inf`, as `vllm bench serve` does by default); simulated step by step."""


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
        self.accepted = accepted_tokens_per_step(load.mtp)
        self.prefill_alone_s = prefill_time_s(spec, gpu, dep, engine, load.input_len)
        self.prefill_capacity = prefill_capacity_tokens_per_s(spec, gpu, dep, engine, load.input_len) / dep.dp
        self._tpot_cache: dict[float, tuple[float, float]] = {}

    def raw_tpot(self, batch: float) -> tuple[float, float]:
        """(TPOT, decode round seconds) without prefill interference."""
        key = round(batch, 6)
        if key not in self._tpot_cache:
            mtp = self.load.mtp
            step = decode_round(
                self.spec, self.gpu, self.dep, self.engine, batch, self.context,
                tokens_per_seq=mtp + 1, frontend=not self.load.disaggregated_decode,
            )
            if mtp:
                draft = decode_step(self.spec, self.gpu, self.dep, self.engine, batch, self.context, {"mtp": 1, "last_stage": 1})
                step += mtp * draft.total_s
            self._tpot_cache[key] = (step / self.accepted, step)
        return self._tpot_cache[key]

    def at_batch(self, batch: float, waiting: float = 0.0) -> RankPoint:
        """Steady state with `batch` sequences running: solve for the prefill share rho by bisection.

        Given rho, TPOT = t_d / (1 - rho), TTFT = S + rho S / (2 (1 - rho)) + t_d and the request rate
        is X = b / (TTFT + (out - 1) TPOT); the consistent rho satisfies rho = X in / P. The implied
        rho falls as rho rises, so the root is unique.
        """
        out = self.load.output_len
        tpot0, step = self.raw_tpot(batch)

        def state(rho: float) -> tuple[float, float, float]:
            tpot = tpot0 / (1.0 - rho)
            ttft = self.prefill_alone_s * (1.0 + rho / (2.0 * (1.0 - rho))) + step
            return tpot, ttft, batch / (ttft + max(out - 1, 0) * tpot)

        if self.load.disaggregated_decode:  # prefill runs on other GPUs; TTFT here is one step
            tpot, ttft, rho = tpot0, step, 0.0
            rate = batch / (out * tpot)
        else:
            low, high = 0.0, MAX_PREFILL_SHARE
            for _ in range(_BISECTION_ROUNDS):
                mid = (low + high) / 2
                if state(mid)[2] * self.load.input_len / self.prefill_capacity > mid:
                    low = mid
                else:
                    high = mid
            rho = high
            tpot, ttft, rate = state(rho)
        if waiting > 0 and rate > 0:
            ttft += waiting / rate
        return RankPoint(batch=batch, ttft_s=ttft, tpot_s=tpot, requests_per_s=rate, prefill_share=rho, step_s=step)

    def burst(self, requests: int, max_batch: int) -> tuple[RankPoint, float]:
        """Serve `requests` that all arrive at t = 0, step by step; returns mean figures and makespan.

        Each engine step decodes every running sequence and fills the rest of a
        PREFILL_CHUNK_TOKENS token budget with prompt tokens of waiting requests, first come first
        served, admitting new ones while fewer than `max_batch` run (vLLM V1 / SGLang chunked
        prefill). A step lasts the decode round of the running batch plus the prefill tokens at the
        rank's prefill rate. Requests move in cohorts that finished prefill in the same step.
        """
        out, prompt = self.load.output_len, self.load.input_len
        per_prefill_token = 1.0 / self.prefill_capacity
        waiting, partial = requests, 0.0  # requests not started; prompt tokens already done for the head one
        prefilling = 0  # admitted requests still in prefill (at most one partially done at a time)
        cohorts: list[list[float]] = []  # [count, tokens left, ttft]
        t = ttft_sum = tpot_sum = 0.0
        steps = 0
        while waiting or cohorts:
            steps += 1
            decoding = sum(c[0] for c in cohorts)
            budget = max(0.0, PREFILL_CHUNK_TOKENS - decoding)
            done_prefill = 0
            used = 0.0
            while waiting and budget > 0 and decoding + done_prefill < max_batch:
                take = min(budget, prompt - partial)
                budget -= take
                used += take
                partial += take
                if partial >= prompt:
                    partial = 0.0
                    waiting -= 1
                    done_prefill += 1
            step = used * per_prefill_token
            if decoding:
                step += self.raw_tpot(decoding)[1]
            elif used:
                step += self.engine.step_overhead_s
            t += step
            for c in cohorts:
                c[1] -= self.accepted
            for c in [c for c in cohorts if c[1] <= 0]:
                tpot_sum += c[0] * (t - c[2]) / max(out - 1, 1)
                cohorts.remove(c)
            if done_prefill:
                ttft_sum += done_prefill * t
                if out > 1:
                    cohorts.append([done_prefill, out - 1, t])
            if steps > 10_000_000:  # pragma: no cover - a guard against a stuck simulation
                break
        makespan = t
        mean_tpot = tpot_sum / requests if out > 1 else 0.0
        point = RankPoint(
            batch=min(requests, max_batch), ttft_s=ttft_sum / requests, tpot_s=mean_tpot,
            requests_per_s=requests / makespan, prefill_share=0.0, step_s=self.raw_tpot(min(requests, max_batch))[1],
        )
        return point, makespan

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


def estimate_performance(
    spec: ModelSpec,
    gpu: GpuSpec,
    dep: Deployment,
    engine: EngineProfile,
    load: Workload,
    kv_tokens_per_rank: int,
) -> PerformanceEstimate:
    """Latency and throughput of the deployment for the workload; default load = the largest batch."""
    rank = RankModel(spec, gpu, dep, engine, load)
    max_batch = max_batch_per_rank(gpu, engine, kv_tokens_per_rank, load)
    if max_batch < 1:
        max_batch = 1
    saturated = rank.at_batch(max_batch)
    max_rps = saturated.requests_per_s * dep.dp
    note = None
    overloaded = False
    if load.rps is not None:
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
    elif load.burst and load.concurrency:
        concurrency = load.concurrency
        point, _ = rank.burst(max(1, round(concurrency / dep.dp)), max_batch)
    else:
        concurrency = load.concurrency if load.concurrency is not None else _knee_batch(rank, max_batch, saturated) * dep.dp
        per_rank = concurrency / dep.dp
        running = min(per_rank, float(max_batch))
        point = rank.at_batch(running, waiting=per_rank - running)
        if per_rank > max_batch:
            note = f"{per_rank:g} requests per DP rank but only {max_batch} run at once; the rest queue (TTFT includes the wait)"
    output_tps = point.requests_per_s * dep.dp * load.output_len
    return PerformanceEstimate(
        ttft_ms=round(point.ttft_s * 1e3, 3),
        tpot_ms=round(point.tpot_s * 1e3, 3),
        prefill_tokens_per_s=round(rank.prefill_capacity * dep.dp, 1),
        output_tokens_per_s=round(output_tps, 2),
        output_tokens_per_s_per_gpu=round(output_tps / dep.gpus, 3),
        output_tokens_per_s_per_user=round(1.0 / point.tpot_s, 3),
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
    )
