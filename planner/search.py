"""`planner plan`: search GPU type x count x weight format x parallelism x engine x serving mode for the
cheapest deployment that serves a workload within its latency targets.

Candidates:
- aggregated deployments of 1 to 144 GPUs: TP inside a node, independent TP x DP replicas inside a
  node, PP over up to 4 nodes, and for MoE models DP-attention with experts spread over all GPUs of a
  stage; when experts span nodes (wide EP, the GPU counts DeepSeek and LMSYS used: 16-144), with
  EPLB and 32 redundant experts as those deployments run, with or without two-batch overlap
  (whichever takes the shorter step for the role: the other is pruned);
- prefill/decode-disaggregated deployments: every deployment above as a prefill pool and as a decode
  pool, the same GPU type and engine for both, X prefill instances and Y decode instances (xPyD).

Aggregated: steady state at a geometric ladder of running batches (1, 2, 4, ... up to what fits),
keeping the largest whose TPOT and p95 TTFT meet the SLOs; the workload needs ceil(rate / replica
rate) replicas. Disaggregated: a decode pool runs the largest batch meeting the TPOT SLO without prefill
interference; a prefill pool runs at the utilisation u whose p95 TTFT (its own prefill step + 3 x the
M/D/1 wait + KV transfer + one decode step) meets the TTFT SLO. Because X and Y size independently,
the cheapest xPyD pair for a GPU type and engine is the cheapest prefill pool plus the cheapest decode
pool, so every pair is priced exactly without enumerating them (they are counted as searched).

The plan ranks by USD per million tokens (GPUs x USD/GPU-hour x 730 h over the month's tokens); when
no candidate meets the SLOs the closest miss is explained. `cost_frontier` prices the cheapest
candidate at each traffic volume (for the plot and the break-even against managed APIs).

p95 TTFT = the constant part + 3 x the mean queueing wait: the waiting time of a queue at moderate
load has a near-exponential tail, whose 95th percentile is ln 20 ~ 3 times its mean (Kingman's
approximation, as used in capacity-planning texts).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from planner.batching import RankModel, Workload, max_batch_per_rank
from planner.catalog import gpu_names, load_gpu
from planner.cost import HOURS_PER_MONTH, SECONDS_PER_DAY
from planner.deployment import Deployment
from planner.disaggregation import kv_transfer_per_request_s, prefill_rank_tokens_per_s
from planner.engine import engine_profile
from planner.errors import PlannerInputError
from planner.gpu_spec import GpuSpec
from planner.layout import validate_layout
from planner.memory import estimate_memory
from planner.model_spec import ModelSpec
from planner.step_model import StepShape, overlap_gain_s, prefill_step_s

__all__ = ["PlanRequest", "PlanCandidate", "ManagedOption", "PlanResult", "FrontierPoint", "search",
           "candidate_deployments", "cost_frontier", "P95_WAIT_FACTOR", "PLAN_GPU_COUNTS", "WIDE_EP_REDUNDANT_EXPERTS"]

P95_WAIT_FACTOR = 3.0
"""95th percentile of the queueing wait as a multiple of its mean (exponential tail: ln 20 = 3.0)."""

PLAN_GPU_COUNTS: tuple[int, ...] = (1, 2, 4, 8, 16, 24, 32, 48, 64, 72, 96, 128, 144)
"""GPU counts per instance: powers of two inside a node, then whole 8-GPU nodes up to DeepSeek's 18-node
decode unit (EP144); 32 is DeepSeek's prefill unit, 72 LMSYS's decode pool (9 nodes of H100)."""

MAX_PP_NODES = 4
"""Pipeline parallelism is searched over at most 4 nodes (bubbles and hand-offs grow with stages)."""

WIDE_EP_REDUNDANT_EXPERTS = 32
"""Redundant experts of a wide-EP deployment: DeepSeek day 6 uses 32 in both pools, LMSYS's SGLang run
the same (ep-num-redundant-experts 32)."""

_SLO_MARGIN_TTFT_S = 1e9


class PlanRequest(BaseModel):
    """A workload, its SLOs, and which GPUs, formats, engines and serving modes may be used."""

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
    disaggregated: bool = True
    """Also search prefill/decode-disaggregated deployments."""
    max_gpus: int = 144
    """Largest instance (GPUs per replica or per pool) to consider."""
    cached_input_tokens: int = 0
    """Prompt tokens per request served from the engines' prefix cache (not recomputed)."""


class PlanCandidate(BaseModel):
    """One deployment, replicated enough to serve the workload, with its latency and cost.

    Disaggregated candidates: `deployment` is the decode pool's, `replicas` its instances, and the
    prefill pool is `prefill_deployment` x `prefill_instances`; `total_gpus` and the cost cover both.
    """

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
    mode: str = "aggregated"
    prefill_deployment: Deployment | None = None
    prefill_instances: int = 0
    prefill_instance_requests_per_s: float = 0.0

    @property
    def label(self) -> str:
        d = self.deployment
        text = f"{d.gpus} x {d.gpu} {d.layout}"
        if self.prefill_deployment is not None:
            p = self.prefill_deployment
            text = f"{self.prefill_instances}P{self.replicas}D {d.gpu} P:{p.gpus}x {p.layout} D:{d.gpus}x {d.layout}"
        return text


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
    aggregated_candidates: int = 0
    """Deployment x engine candidates (each wide-EP layout counted with and without two-batch overlap,
    the variant with the slower step for a role pruned for it); the rest of `candidates_searched` are
    disaggregated xPyD pairs, priced exactly from their pools."""
    disaggregated_pairs: int = 0
    best: list[PlanCandidate]
    closest_miss: PlanCandidate | None
    explanation: str | None
    managed: list[ManagedOption]


class FrontierPoint(BaseModel):
    """The cheapest candidate at one traffic volume."""

    model_config = ConfigDict(frozen=True)

    tokens_per_day: float
    monthly_usd: float
    usd_per_million_tokens: float
    plan: str
    engine: str
    total_gpus: int


def _layouts(spec: ModelSpec, gpus: int, per_node: int) -> Iterator[dict[str, object]]:
    """Parallel layouts of `gpus` GPUs: TP inside a node (PP across up to MAX_PP_NODES nodes), and for MoE
    models DP-attention with experts spread over all GPUs of a stage (wide EP once that spans nodes).
    Independent TP x DP replicas are not separate candidates: they are `replicas` of the TP deployment."""
    tp = 1
    while tp <= min(gpus, per_node):
        rest = gpus // tp
        if gpus % tp == 0:
            if rest == 1:
                yield {"tp": tp, "pp": 1, "dp": 1}
            if rest > 1 and tp == min(gpus, per_node) and rest <= MAX_PP_NODES:
                yield {"tp": tp, "pp": rest, "dp": 1}
            if spec.is_moe and rest > 1:
                layout: dict[str, object] = {"tp": tp, "pp": 1, "dp": rest, "ep": gpus, "dp_attention": True}
                if gpus > per_node:
                    # With and without two-batch overlap: _explore keeps, per role, the one with the shorter step.
                    layout.update(eplb=True, redundant_experts=WIDE_EP_REDUNDANT_EXPERTS, tbo=True)
                yield layout
        tp *= 2


def candidate_deployments(spec: ModelSpec, req: PlanRequest, gpu: GpuSpec) -> Iterator[Deployment]:
    """Every valid deployment of one GPU type for the request's formats and counts."""
    kv_dtype = req.kv_dtype if req.kv_dtype != "auto" else ("fp8" if spec.has_dsa else "bf16")
    max_len = req.max_model_len or min(spec.max_position_embeddings, max(req.input_len + req.output_len, 8192))
    for weights in req.weights:
        if weights == "nvfp4" and not gpu.fp4_dense_tflops.value:
            continue  # NVFP4 kernels need Blackwell FP4 tensor cores
        for gpus in PLAN_GPU_COUNTS:
            if gpus > req.max_gpus:
                break
            for layout in _layouts(spec, gpus, gpu.gpus_per_node):
                try:
                    dep = Deployment(
                        gpu=gpu.name, gpus=gpus, weights_dtype=weights, kv_dtype=kv_dtype, max_model_len=max_len,
                        gpu_memory_utilization=req.gpu_memory_utilization,
                        nodes=Deployment.nodes_for(gpus, gpu.gpus_per_node), gpus_per_node=gpu.gpus_per_node, **layout,
                    )
                    validate_layout(spec, dep)
                except (PlannerInputError, ValueError):
                    continue
                yield dep


def _ladder(max_batch: int) -> list[int]:
    sizes, b = [], 1
    while b < max_batch:
        sizes.append(b)
        b *= 2
    return [*sizes, max_batch]


def _monthly(gpus: int, hourly: float) -> float:
    return gpus * hourly * HOURS_PER_MONTH


def _tokens_per_month(req: PlanRequest) -> float:
    return req.requests_per_s * (req.input_len + req.output_len) * SECONDS_PER_DAY * HOURS_PER_MONTH / 24


def _evaluate(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: str, req: PlanRequest, kv_tokens: int,
              hourly: float) -> PlanCandidate:
    profile = engine_profile(engine)
    load = Workload(input_len=req.input_len, output_len=req.output_len, cached_input_tokens=req.cached_input_tokens)
    rank = RankModel(spec, gpu, dep, profile, load)
    max_batch = max(1, max_batch_per_rank(gpu, profile, kv_tokens, load))
    best = None
    for batch in _ladder(max_batch):
        point = rank.at_batch(batch)
        fixed = rank.prefill_alone_s + point.step_s + profile.request_overhead_s
        wait = point.ttft_s - fixed
        ttft_p95 = (fixed + P95_WAIT_FACTOR * max(wait, 0.0)) * 1e3
        tpot = point.tpot_s * 1e3
        ok = (req.tpot_ms is None or tpot <= req.tpot_ms) and (req.ttft_p95_ms is None or ttft_p95 <= req.ttft_p95_ms)
        if best is None or ok:
            best = (batch, point, ttft_p95, tpot, ok)
        if not ok:
            break
    batch, point, ttft_p95, tpot, ok = best
    replica_rps = point.requests_per_s * dep.dp
    replicas = max(1, math.ceil(req.requests_per_s / replica_rps - 1e-9))
    monthly = _monthly(replicas * dep.gpus, hourly)
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
        gpu_hourly_usd=hourly, monthly_usd=round(monthly, 2),
        usd_per_million_tokens=round(monthly / _tokens_per_month(req) * 1e6, 4), meets_slo=ok, miss=miss,
    )


class _DecodePool(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: Deployment
    batch: int
    tpot_ms: float
    step_s: float
    instance_rps: float


class _PrefillPool(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: Deployment
    instance_rps: float
    """Prompts per second one instance takes at the utilisation the TTFT SLO allows."""
    capacity_rps: float
    """Prompts per second one instance takes at full load."""
    batch_step_s: float
    fixed_s: float
    """Per-request overhead, its own prefill step, the KV hand-off and the first decode step."""

    def ttft_p95_s(self, rate: float, instances: int) -> float:
        u = min(rate / (instances * self.capacity_rps), 0.98)
        return self.fixed_s + P95_WAIT_FACTOR * u * self.batch_step_s / (2 * (1 - u))


def _decode_pool(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: str, req: PlanRequest,
                 kv_tokens: int) -> _DecodePool | None:
    """The largest ladder batch meeting the TPOT SLO on a decode-only pool (None when even one misses)."""
    profile = engine_profile(engine)
    load = Workload(input_len=req.input_len, output_len=req.output_len, disaggregated_decode=True,
                    cached_input_tokens=req.cached_input_tokens)
    rank = RankModel(spec, gpu, dep, profile, load)
    max_batch = max(1, max_batch_per_rank(gpu, profile, kv_tokens, load))
    chosen = None
    for batch in _ladder(max_batch):
        point = rank.at_batch(batch)
        if req.tpot_ms is not None and point.tpot_s * 1e3 > req.tpot_ms:
            break
        chosen = (batch, point)
    if chosen is None:
        return None
    batch, point = chosen
    return _DecodePool(deployment=dep, batch=batch, tpot_ms=round(point.tpot_s * 1e3, 2), step_s=point.step_s,
                       instance_rps=point.requests_per_s * dep.dp)


def _prefill_pool(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: str, req: PlanRequest,
                  decode_step_s: float) -> _PrefillPool | None:
    """The prompt rate one prefill instance takes while its p95 TTFT meets the SLO (None if it cannot)."""
    profile = engine_profile(engine)
    cached = req.cached_input_tokens
    computed = max(1, req.input_len - cached)
    rate_rank, batch_step = prefill_rank_tokens_per_s(spec, gpu, dep, profile, req.input_len, cached)
    capacity = rate_rank * dep.dp / computed
    fixed = (profile.request_overhead_s + prefill_step_s(spec, gpu, dep, profile, computed, cached + computed / 2)
             + kv_transfer_per_request_s(spec, gpu, dep, dep.kv_dtype, req.input_len, same_node=False) + decode_step_s)
    budget = (req.ttft_p95_ms / 1e3 if req.ttft_p95_ms is not None else _SLO_MARGIN_TTFT_S) - fixed
    if budget <= 0:
        return None
    # p95 wait = 3 u S / (2 (1 - u)) <= budget  =>  u <= 2 budget / (3 S + 2 budget)
    u = min(0.9, 2 * budget / (P95_WAIT_FACTOR * batch_step + 2 * budget))
    return _PrefillPool(deployment=dep, instance_rps=capacity * u, capacity_rps=capacity, batch_step_s=batch_step,
                        fixed_s=fixed)


def _disaggregated_candidates(prefills: list[tuple[_PrefillPool, float]], decodes: list[tuple[_DecodePool, float]],
                              engine: str, req: PlanRequest, per_side: int = 3) -> list[PlanCandidate]:
    """The cheapest prefill pools x the cheapest decode pools (each sized for the request rate)."""
    def sized_prefill(item: tuple[_PrefillPool, float]) -> tuple[int, float]:
        pool, hourly = item
        x = max(1, math.ceil(req.requests_per_s / pool.instance_rps - 1e-9))
        return x, _monthly(x * pool.deployment.gpus, hourly)

    def sized_decode(item: tuple[_DecodePool, float]) -> tuple[int, float]:
        pool, hourly = item
        y = max(1, math.ceil(req.requests_per_s / pool.instance_rps - 1e-9))
        return y, _monthly(y * pool.deployment.gpus, hourly)

    best_p = sorted(prefills, key=lambda it: sized_prefill(it)[1])[:per_side]
    best_d = sorted(decodes, key=lambda it: sized_decode(it)[1])[:per_side]
    out = []
    for p_item in best_p:
        x, p_cost = sized_prefill(p_item)
        for d_item in best_d:
            y, d_cost = sized_decode(d_item)
            p, d = p_item[0], d_item[0]
            monthly = p_cost + d_cost
            gpus = x * p.deployment.gpus + y * d.deployment.gpus
            ttft_p95 = p.ttft_p95_s(req.requests_per_s, x) * 1e3
            out.append(PlanCandidate(
                deployment=d.deployment, engine=engine, replicas=y, total_gpus=gpus, batch_per_dp_rank=d.batch,
                ttft_p95_ms=round(ttft_p95, 1), tpot_ms=d.tpot_ms, replica_requests_per_s=round(d.instance_rps, 4),
                gpu_hourly_usd=round(monthly / gpus / HOURS_PER_MONTH, 4), monthly_usd=round(monthly, 2),
                usd_per_million_tokens=round(monthly / _tokens_per_month(req) * 1e6, 4), meets_slo=True,
                mode="disaggregated", prefill_deployment=p.deployment, prefill_instances=x,
                prefill_instance_requests_per_s=round(p.instance_rps, 4),
            ))
    return out


def _slo_excess(c: PlanCandidate, req: PlanRequest) -> float:
    ratios = [1.0]
    if req.tpot_ms:
        ratios.append(c.tpot_ms / req.tpot_ms)
    if req.ttft_p95_ms:
        ratios.append(c.ttft_p95_ms / req.ttft_p95_ms)
    return max(ratios)


class _Pools(BaseModel):
    """Per (GPU, engine, weight format): the pools that meet the SLOs, with their GPU price."""

    prefill: list[tuple[_PrefillPool, float]] = Field(default_factory=list)
    decode: list[tuple[_DecodePool, float]] = Field(default_factory=list)


def _overlap_choice(spec: ModelSpec, gpu: GpuSpec, tbo: Deployment, engine: str, req: PlanRequest,
                    kv_tokens: int) -> dict[str, bool]:
    """Per role, whether the two-batch-overlap variant of a wide-EP layout takes the shorter step.

    TBO hides the cross-node all-to-all under the other half-batch's compute but runs every GEMM twice,
    reading each weight twice: it pays in compute-bound prefill and can lose in memory-bound decode. The
    two variants need the same memory, so the dominated one is pruned per role by its characteristic
    step: a decode step at the largest batch (decode pool), a prefill batch (prefill pool), and that
    decode step plus a prefill chunk (aggregated, chunked prefill).
    """
    profile = engine_profile(engine)
    load = Workload(input_len=req.input_len, output_len=req.output_len, cached_input_tokens=req.cached_input_tokens)
    batch = float(max(1, max_batch_per_rank(gpu, profile, kv_tokens, load)))
    context = req.input_len + req.output_len / 2
    chunk = float(profile.chunk_tokens(gpu.memory_bytes))
    half = req.input_len / 2
    shapes = {"aggregated": StepShape.model_construct(decode_seqs=batch, decode_context_tokens=context, draft_tokens=0,
                                                      prefill_tokens=chunk, prefill_attended_tokens=half)}
    if req.disaggregated:
        shapes["decode"] = StepShape.model_construct(decode_seqs=batch, decode_context_tokens=context, draft_tokens=0,
                                                     prefill_tokens=0.0, prefill_attended_tokens=0.0)
        shapes["prefill"] = StepShape.model_construct(decode_seqs=0.0, decode_context_tokens=0.0, draft_tokens=0,
                                                      prefill_tokens=chunk, prefill_attended_tokens=half)
    return {role: overlap_gain_s(spec, gpu, tbo, profile, shape) < 0 for role, shape in shapes.items()}


def _explore(spec: ModelSpec, req: PlanRequest) -> tuple[int, int, list[PlanCandidate], list[PlanCandidate],
                                                         dict[tuple[str, str, str], _Pools]]:
    """Every candidate: (searched, fitting, meeting the SLOs, missing them, pools per GPU x engine x format);
    disaggregated pairs are counted in searched and fitting."""
    names = req.gpus or gpu_names()
    searched = fitting = 0
    meeting: list[PlanCandidate] = []
    missing: list[PlanCandidate] = []
    pools: dict[tuple[str, str], _Pools] = {}
    for name in names:
        gpu = load_gpu(name)
        hourly = req.gpu_hourly_usd.get(name, float(gpu.usd_per_hour.value or 0))
        for dep in candidate_deployments(spec, req, gpu):
            searched += len(req.engines)
            memory = estimate_memory(spec, gpu, dep, req.input_len, req.output_len)
            if not memory.fits:
                continue
            twin = dep.model_copy(update={"tbo": False}) if dep.tbo else None
            if twin is not None:
                searched += len(req.engines)
            for engine in req.engines:
                fitting += 1 + (twin is not None)
                kv = memory.kv_tokens_per_dp_rank
                roles = _overlap_choice(spec, gpu, dep, engine, req, kv) if twin is not None else None
                pick = (lambda role: dep if roles is None or roles.get(role, True) else twin)
                candidate = _evaluate(spec, gpu, pick("aggregated"), engine, req, kv, hourly)
                (meeting if candidate.meets_slo else missing).append(candidate)
                if req.disaggregated and (dep.dp_attention or dep.dp == 1):
                    slot = pools.setdefault((name, engine, dep.weights_dtype), _Pools())
                    decode = _decode_pool(spec, gpu, pick("decode"), engine, req, kv)
                    if decode is not None:
                        slot.decode.append((decode, hourly))
                    prefill = _prefill_pool(spec, gpu, pick("prefill"), engine, req, decode.step_s if decode else 0.05)
                    if prefill is not None:
                        slot.prefill.append((prefill, hourly))
    for (_, engine, _), slot in pools.items():
        searched += len(slot.prefill) * len(slot.decode)
        fitting += len(slot.prefill) * len(slot.decode)
        if slot.prefill and slot.decode:
            meeting += _disaggregated_candidates(slot.prefill, slot.decode, engine, req)
    return searched, fitting, meeting, missing, pools


def search(spec: ModelSpec, req: PlanRequest, managed_prices: list | None = None, cache_hit_rate: float = 0.0) -> PlanResult:
    """Rank every candidate that fits and meets the SLOs by USD per million tokens."""
    names = req.gpus or gpu_names()
    searched, fitting, meeting, missing, pools = _explore(spec, req)
    pairs = sum(len(slot.prefill) * len(slot.decode) for slot in pools.values())
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
            largest = min(req.max_gpus, PLAN_GPU_COUNTS[-1])
            explanation = f"no deployment of up to {largest} GPUs of {', '.join(names)} fits {spec.name}"
    tokens_per_day = req.requests_per_s * (req.input_len + req.output_len) * SECONDS_PER_DAY
    managed = _managed_options(req, managed_prices or [], tokens_per_day, meeting[0] if meeting else None, cache_hit_rate)
    return PlanResult(
        model=spec.name, requests_per_s=req.requests_per_s, tokens_per_day=round(tokens_per_day),
        candidates_searched=searched, candidates_fitting=fitting, candidates_meeting_slo=len(meeting),
        aggregated_candidates=searched - pairs, disaggregated_pairs=pairs, best=meeting[: req.top], closest_miss=closest, explanation=explanation, managed=managed,
    )


def cost_frontier(spec: ModelSpec, req: PlanRequest, tokens_per_day: list[float]) -> list[FrontierPoint | None]:
    """The cheapest plan meeting the SLOs at each traffic volume (None where nothing meets them).

    Each candidate's per-instance rate and price are computed once (at the request's rate, which does
    not change them); each volume then needs only ceil(rate / instance rate) instances of each.
    """
    _, _, meeting, _, pools = _explore(spec, req)
    aggregated = [c for c in meeting if c.mode == "aggregated"]
    out: list[FrontierPoint | None] = []
    for volume in tokens_per_day:
        rate = volume / (req.input_len + req.output_len) / SECONDS_PER_DAY
        best: FrontierPoint | None = None
        for c in aggregated:
            n = max(1, math.ceil(rate / c.replica_requests_per_s - 1e-9))
            monthly = _monthly(n * c.deployment.gpus, c.gpu_hourly_usd)
            if best is None or monthly < best.monthly_usd:
                best = FrontierPoint(tokens_per_day=volume, monthly_usd=monthly, usd_per_million_tokens=0.0,
                                     plan=f"{n} x ({c.label} {c.deployment.weights_dtype})", engine=c.engine,
                                     total_gpus=n * c.deployment.gpus)
        for (gpu, engine, weights), slot in pools.items():
            if not (slot.prefill and slot.decode):
                continue
            p_cost, p_label, p_gpus = min(
                ((_monthly(max(1, math.ceil(rate / p.instance_rps - 1e-9)) * p.deployment.gpus, h),
                  f"{max(1, math.ceil(rate / p.instance_rps - 1e-9))}P {p.deployment.gpus}x {p.deployment.layout}",
                  max(1, math.ceil(rate / p.instance_rps - 1e-9)) * p.deployment.gpus) for p, h in slot.prefill),
                key=lambda t: t[0])
            d_cost, d_label, d_gpus = min(
                ((_monthly(max(1, math.ceil(rate / d.instance_rps - 1e-9)) * d.deployment.gpus, h),
                  f"{max(1, math.ceil(rate / d.instance_rps - 1e-9))}D {d.deployment.gpus}x {d.deployment.layout}",
                  max(1, math.ceil(rate / d.instance_rps - 1e-9)) * d.deployment.gpus) for d, h in slot.decode),
                key=lambda t: t[0])
            if best is None or p_cost + d_cost < best.monthly_usd:
                best = FrontierPoint(tokens_per_day=volume, monthly_usd=p_cost + d_cost, usd_per_million_tokens=0.0,
                                     plan=f"{p_label} + {d_label} on {gpu} {weights}", engine=engine,
                                     total_gpus=p_gpus + d_gpus)
        if best is not None:
            tokens_month = volume * HOURS_PER_MONTH / 24
            best = best.model_copy(update={"monthly_usd": round(best.monthly_usd, 2),
                                           "usd_per_million_tokens": round(best.monthly_usd / tokens_month * 1e6, 4)})
        out.append(best)
    return out


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
