"""`planner plan`: search GPU type x count x weight format x parallelism x engine for the cheapest
deployment that serves a workload within its latency targets.

For each candidate deployment (one replica): check memory; evaluate steady state at a geometric
ladder of running batches (1, 2, 4, ... up to what fits) and keep the largest whose TPOT and
p95 TTFT meet the SLOs; that gives the replica's request rate at the SLO. The workload needs
ceil(rate / replica rate) replicas; the plan ranks candidates by USD per million tokens
(replicas x GPUs x USD/GPU-hour x 730 h over the month's tokens). When no candidate meets the SLOs
the closest miss is explained instead of an empty table.

p95 TTFT = prefill alone + 3 x the mean queueing wait + one decode round: the waiting time of a
queue at moderate load has a near-exponential tail, whose 95th percentile is ln 20 ~ 3 times its
mean (Kingman's approximation, as used in capacity-planning texts).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from planner.batching import Workload, RankModel, max_batch_per_rank
from planner.catalog import gpu_names, load_gpu
from planner.cost import HOURS_PER_MONTH, SECONDS_PER_DAY
from planner.deployment import Deployment
from planner.engine import engine_profile
from planner.errors import PlannerInputError
from planner.gpu_spec import GpuSpec
from planner.layout import validate_layout
from planner.memory import estimate_memory
from planner.model_spec import ModelSpec

__all__ = ["PlanRequest", "PlanCandidate", "ManagedOption", "PlanResult", "search", "candidate_deployments",
           "P95_WAIT_FACTOR", "PLAN_GPU_COUNTS"]

P95_WAIT_FACTOR = 3.0
"""95th percentile of the queueing wait as a multiple of its mean (exponential tail: ln 20 = 3.0)."""

PLAN_GPU_COUNTS: tuple[int, ...] = (1, 2, 4, 8, 16, 24, 32, 48, 64)
"""GPU counts per replica the plan considers: powers of two inside a node, then whole 8-GPU nodes."""


class PlanRequest(BaseModel):
    """A workload, its SLOs, and which GPUs, formats and engines may be used."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_len: int
    output_len: int
    requests_per_s: float
    ttft_p95_ms: float | None = None
    tpot_ms: float | None = None
    gpus: tuple[str, ...] = ()
    weights: tuple[str, ...] = ("bf16", "fp8", "int4", "nvfp4")
    engines: tuple[str, ...] = ("vllm", "sglang")
    kv_dtype: str = "auto"
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    gpu_hourly_usd: dict[str, float] = Field(default_factory=dict)
    top: int = 10


class PlanCandidate(BaseModel):
    """One deployment, replicated enough to serve the workload, with its latency and cost."""

    model_config = ConfigDict(frozen=True)

    deployment: Deployment
    engine: str
    replicas: int
    total_gpus: int
    batch_per_dp_rank: int
    ttft_p95_ms: float
    tpot_ms: float
    replica_requests_per_s: float
    gpu_hourly_usd: float
    monthly_usd: float
    usd_per_million_tokens: float
    meets_slo: bool
    miss: str | None = None


class ManagedOption(BaseModel):
    """A managed API serving the same traffic."""

    model_config = ConfigDict(frozen=True)

    provider: str
    model_id: str
    monthly_usd: float
    usd_per_million_tokens: float
    cheaper_than_best_self_hosted: bool
    source: str


class PlanResult(BaseModel):
    """What `planner plan --json` prints."""

    model_config = ConfigDict(frozen=True)

    model: str
    requests_per_s: float
    tokens_per_day: float
    candidates_searched: int
    candidates_fitting: int
    candidates_meeting_slo: int
    best: list[PlanCandidate]
    closest_miss: PlanCandidate | None
    explanation: str | None
    managed: list[ManagedOption]


def _layouts(spec: ModelSpec, gpus: int, per_node: int) -> Iterator[dict[str, object]]:
    """Parallel layouts of `gpus` GPUs: TP inside a node (PP across nodes), TP x DP replicas,
    and for MoE models DP-attention with experts spread over all GPUs of a stage."""
    tp = 1
    while tp <= min(gpus, per_node):
        rest = gpus // tp
        if gpus % tp == 0:
            yield {"tp": tp, "pp": 1, "dp": rest}
            if rest > 1 and tp == min(gpus, per_node):
                yield {"tp": tp, "pp": rest, "dp": 1}
            if spec.is_moe and rest > 1:
                yield {"tp": tp, "pp": 1, "dp": rest, "ep": gpus, "dp_attention": True}
        tp *= 2


def candidate_deployments(spec: ModelSpec, req: PlanRequest, gpu: GpuSpec) -> Iterator[Deployment]:
    """Every valid deployment of one GPU type for the request's formats and counts."""
    kv_dtype = req.kv_dtype if req.kv_dtype != "auto" else ("fp8" if spec.has_dsa else "bf16")
    max_len = req.max_model_len or min(spec.max_position_embeddings, max(req.input_len + req.output_len, 8192))
    for weights in req.weights:
        if weights == "nvfp4" and not gpu.fp4_dense_tflops.value:
            continue  # NVFP4 kernels need Blackwell FP4 tensor cores
        for gpus in PLAN_GPU_COUNTS:
            for layout in _layouts(spec, gpus, gpu.gpus_per_node):
                dep = Deployment(
                    gpu=gpu.name, gpus=gpus, weights_dtype=weights, kv_dtype=kv_dtype, max_model_len=max_len,
                    gpu_memory_utilization=req.gpu_memory_utilization,
                    nodes=Deployment.nodes_for(gpus, gpu.gpus_per_node), gpus_per_node=gpu.gpus_per_node, **layout,
                )
                try:
                    validate_layout(spec, dep)
                except PlannerInputError:
                    continue
                yield dep


def _ladder(max_batch: int) -> list[int]:
    sizes, b = [], 1
    while b < max_batch:
        sizes.append(b)
        b *= 2
    return [*sizes, max_batch]


def _evaluate(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: str, req: PlanRequest, kv_tokens: int,
              hourly: float) -> PlanCandidate:
    profile = engine_profile(engine)
    load = Workload(input_len=req.input_len, output_len=req.output_len)
    rank = RankModel(spec, gpu, dep, profile, load)
    max_batch = max(1, max_batch_per_rank(gpu, profile, kv_tokens, load))
    best = None
    for batch in _ladder(max_batch):
        point = rank.at_batch(batch)
        wait = point.ttft_s - rank.prefill_alone_s - point.step_s
        ttft_p95 = (rank.prefill_alone_s + P95_WAIT_FACTOR * max(wait, 0.0) + point.step_s) * 1e3
        tpot = point.tpot_s * 1e3
        ok = (req.tpot_ms is None or tpot <= req.tpot_ms) and (req.ttft_p95_ms is None or ttft_p95 <= req.ttft_p95_ms)
        if best is None or ok:
            best = (batch, point, ttft_p95, tpot, ok)
        if not ok:
            break
    batch, point, ttft_p95, tpot, ok = best
    replica_rps = point.requests_per_s * dep.dp
    replicas = max(1, math.ceil(req.requests_per_s / replica_rps - 1e-9))
    monthly = replicas * dep.gpus * hourly * HOURS_PER_MONTH
    tokens_month = req.requests_per_s * (req.input_len + req.output_len) * SECONDS_PER_DAY * HOURS_PER_MONTH / 24
    miss = None
    if not ok:
        parts = []
        if req.tpot_ms is not None and tpot > req.tpot_ms:
            parts.append(f"TPOT {tpot:,.1f} ms > {req.tpot_ms:g} ms")
        if req.ttft_p95_ms is not None and ttft_p95 > req.ttft_p95_ms:
            parts.append(f"p95 TTFT {ttft_p95:,.0f} ms > {req.ttft_p95_ms:g} ms")
        miss = " and ".join(parts) + " even with one request per DP rank"
    return PlanCandidate(
        deployment=dep, engine=engine, replicas=replicas, total_gpus=replicas * dep.gpus, batch_per_dp_rank=batch,
        ttft_p95_ms=round(ttft_p95, 1), tpot_ms=round(tpot, 2), replica_requests_per_s=round(replica_rps, 4),
        gpu_hourly_usd=hourly, monthly_usd=round(monthly, 2), usd_per_million_tokens=round(monthly / tokens_month * 1e6, 4),
        meets_slo=ok, miss=miss,
    )


def _slo_excess(c: PlanCandidate, req: PlanRequest) -> float:
    ratios = [1.0]
    if req.tpot_ms:
        ratios.append(c.tpot_ms / req.tpot_ms)
    if req.ttft_p95_ms:
        ratios.append(c.ttft_p95_ms / req.ttft_p95_ms)
    return max(ratios)


def search(spec: ModelSpec, req: PlanRequest, managed_prices: list | None = None, cache_hit_rate: float = 0.0) -> PlanResult:
    """Rank every candidate that fits and meets the SLOs by USD per million tokens."""
    names = req.gpus or gpu_names()
    searched = fitting = 0
    meeting: list[PlanCandidate] = []
    missing: list[PlanCandidate] = []
    for name in names:
        gpu = load_gpu(name)
        hourly = req.gpu_hourly_usd.get(name, float(gpu.usd_per_hour.value or 0))
        for dep in candidate_deployments(spec, req, gpu):
            searched += len(req.engines)
            memory = estimate_memory(spec, gpu, dep, req.input_len, req.output_len)
            if not memory.fits:
                continue
            for engine in req.engines:
                fitting += 1
                candidate = _evaluate(spec, gpu, dep, engine, req, memory.kv_tokens_per_dp_rank, hourly)
                (meeting if candidate.meets_slo else missing).append(candidate)
    meeting.sort(key=lambda c: (c.usd_per_million_tokens, c.total_gpus, c.tpot_ms))
    closest = min(missing, key=lambda c: (round(_slo_excess(c, req), 2), c.usd_per_million_tokens)) if missing and not meeting else None
    explanation = None
    if not meeting:
        if closest is not None:
            d = closest.deployment
            explanation = (
                f"no deployment meets the SLOs; closest: {d.gpus} x {d.gpu} {d.weights_dtype} {d.layout}"
                f" on {closest.engine}: {closest.miss}"
            )
        else:
            explanation = f"no deployment of up to {PLAN_GPU_COUNTS[-1]} GPUs of {', '.join(names)} fits {spec.name}"
    tokens_per_day = req.requests_per_s * (req.input_len + req.output_len) * SECONDS_PER_DAY
    managed = _managed_options(req, managed_prices or [], tokens_per_day, meeting[0] if meeting else None, cache_hit_rate)
    return PlanResult(
        model=spec.name, requests_per_s=req.requests_per_s, tokens_per_day=round(tokens_per_day),
        candidates_searched=searched, candidates_fitting=fitting, candidates_meeting_slo=len(meeting),
        best=meeting[: req.top], closest_miss=closest, explanation=explanation, managed=managed,
    )


def _managed_options(req: PlanRequest, prices: list, tokens_per_day: float, best: PlanCandidate | None,
                     cache_hit_rate: float) -> list[ManagedOption]:
    from planner.prices import monthly_cost_usd

    share_in = req.input_len / (req.input_len + req.output_len)
    tokens_month = tokens_per_day * HOURS_PER_MONTH / 24
    options = []
    for price in prices:
        monthly = monthly_cost_usd(price, tokens_per_day * share_in, tokens_per_day * (1 - share_in), cache_hit_rate)
        options.append(ManagedOption(
            provider=price.provider, model_id=price.model_id, monthly_usd=round(monthly, 2),
            usd_per_million_tokens=round(monthly / tokens_month * 1e6, 4),
            cheaper_than_best_self_hosted=best is None or monthly < best.monthly_usd, source=price.source,
        ))
    return sorted(options, key=lambda o: o.monthly_usd)
