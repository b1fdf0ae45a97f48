"""`planner plan --trace FILE`: how many self-hosted replicas for this traffic, with the rest on a managed API.

1. The trace's mean lengths and rate feed the steady-state search (planner.search): its cheapest
   deployments that meet the SLOs, each with the batch per DP rank that still meets them. Only
   aggregated deployments: the fleet simulator replays replicas that prefill and decode their own
   requests (a disaggregated pair would be replayed as its decode pool alone, prefilling too).
2. The managed provider is the cheapest (for the trace's token mix, cached input at its cached
   price) whose default latency (planner.simulate.managed) meets the SLOs; the cheapest of all when
   none does.
3. For each candidate and 0..N replicas (N covers the trace's peak minute), the trace is replayed
   (planner.simulate.mix): a replica takes at most its SLO batch in flight, and spills once
   `max_waiting` requests queue in its engine; the rest goes to the managed provider.
4. Each row costs replicas x GPUs x USD/GPU-hour x 730 h a month, plus the spilled tokens' bill
   scaled from the trace's span to a 730-hour month. SLO attainment is the share of requests whose
   TTFT meets `--ttft-p95-ms`; a row meets the SLOs when that share reaches `slo_attainment` (0.95:
   the p95 meets it) and the mean TPOT meets `--tpot-ms` (a mean, as in `planner plan`). The cheapest
   such row is the recommendation; `planner emit policy` writes it as a policy.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from planner.cost import HOURS_PER_MONTH
from planner.deployment import Deployment
from planner.errors import PlannerInputError
from planner.model_spec import ModelSpec
from planner.prices import ManagedPrice, daily_cost_usd
from planner.search import PlanCandidate, PlanRequest, search
from planner.simulate.deployment_spec import DeploymentSpec
from planner.simulate.managed import ManagedLatency, default_latency
from planner.simulate.mix import simulate_mix
from planner.simulate.stats import percentiles_ms
from planner.simulate.step_model import replica_timing
from planner.trace.record import Trace

__all__ = ["TracePlanRequest", "MixRow", "TracePlanResult", "plan_for_trace", "peak_requests_per_s"]

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


class TracePlanRequest(BaseModel):
    """SLOs, the search space, and how the mix is sized."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ttft_p95_ms: float | None = None
    tpot_ms: float | None = None
    gpus: tuple[str, ...] = ()
    weights: tuple[str, ...] = ("bf16", "fp8", "int4", "nvfp4")
    engines: tuple[str, ...] = ("vllm", "sglang")
    kv_dtype: str = "auto"
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    gpu_hourly_usd: dict[str, float] = Field(default_factory=dict)
    candidates: int = Field(3, ge=1)
    max_replicas: int = Field(16, ge=1)
    max_waiting: int = Field(4, ge=1)
    slo_attainment: float = Field(0.95, gt=0, le=1)
    prices_path: str | None = Field(None, description="Only passed on to the `planner emit policy` line.")


class MixRow(BaseModel):
    """One mix: `replicas` of a deployment (none: everything managed), replayed over the trace."""

    model_config = ConfigDict(frozen=True)

    deployment: Deployment | None
    engine: str | None
    replicas: int
    batch_per_dp_rank: int | None
    gpu_hourly_usd: float | None
    self_hosted_share: float
    slo_attainment: float = Field(description="Share of requests whose TTFT meets the TTFT SLO.")
    ttft_p95_ms: float | None
    tpot_mean_ms: float | None
    gpu_monthly_usd: float
    managed_monthly_usd: float
    monthly_usd: float
    meets_slo: bool
    cheapest: bool = False


class TracePlanResult(BaseModel):
    """What `planner plan --trace ... --json` prints."""

    model_config = ConfigDict(frozen=True)

    model: str
    trace: str
    requests: int
    span_s: float
    mean_requests_per_s: float
    peak_requests_per_s: float
    mean_input_tokens: float
    mean_output_tokens: float
    managed_provider: str
    managed_model_id: str
    managed_latency_source: str
    managed_meets_slo: bool
    rows: list[MixRow]
    best: int | None = Field(description="Index in rows of the cheapest mix meeting the SLO attainment.")
    explanation: str | None
    emit_command: str | None


def peak_requests_per_s(trace: Trace) -> float:
    """The busiest window's rate: 60-second windows, or a tenth of the span for traces under 10 minutes."""
    span = trace.span_s
    if span <= 0:
        return float(len(trace.records))
    width = 60.0 if span >= 600 else span / 10
    counts: dict[int, int] = {}
    for record in trace.records:
        window = int(record.t // width)
        counts[window] = counts.get(window, 0) + 1
    return max(counts.values()) / width


def _mix_tokens(trace: Trace) -> tuple[int, int, int]:
    records = trace.records
    return (sum(r.prompt_tokens for r in records), sum(r.cached_tokens for r in records),
            sum(max(1, r.output_tokens) for r in records))


def _choose_provider(prices: list[ManagedPrice], trace: Trace, req: TracePlanRequest) -> tuple[ManagedPrice, ManagedLatency, bool]:
    if not prices:
        raise PlannerInputError("no managed provider has a price for this model; give one with --prices FILE")
    prompt, cached, output = _mix_tokens(trace)

    def bill(price: ManagedPrice) -> float:
        return daily_cost_usd(price, prompt, output, cached / prompt if prompt else 0.0)

    def meets(latency: ManagedLatency) -> bool:
        return ((req.ttft_p95_ms is None or latency.ttft_s * 1000 <= req.ttft_p95_ms)
                and (req.tpot_ms is None or latency.tpot_s * 1000 <= req.tpot_ms))

    options = sorted(prices, key=bill)
    for price in options:
        latency = default_latency(price.provider)
        if meets(latency):
            return price, latency, True
    return options[0], default_latency(options[0].provider), False


def _attainment(ttft_s: list[float], req: TracePlanRequest) -> float:
    if req.ttft_p95_ms is None or not ttft_s:
        return 1.0
    limit = req.ttft_p95_ms / 1000
    return sum(1 for ttft in ttft_s if ttft <= limit) / len(ttft_s)


def _deployment_spec(spec: ModelSpec, candidate: PlanCandidate) -> DeploymentSpec:
    d = candidate.deployment
    return DeploymentSpec(
        model=spec.name, gpu=d.gpu, gpus=d.gpus, tp=d.tp, pp=d.pp, dp=d.dp, ep=d.ep, dp_attention=d.dp_attention,
        engine=candidate.engine if candidate.engine in ("vllm", "sglang") else None, weights=d.weights_dtype,
        kv_dtype=d.kv_dtype, max_model_len=d.max_model_len, gpu_memory_utilization=d.gpu_memory_utilization,
        max_num_seqs=candidate.batch_per_dp_rank,
    )


def emit_command(spec: ModelSpec, row: MixRow, provider: str, req: TracePlanRequest) -> str | None:
    """The `planner emit policy` line that writes `row` as a routing policy."""
    d = row.deployment
    if d is None or row.replicas == 0 or row.engine not in ("vllm", "sglang"):
        return None
    parts = [f"planner emit policy --model {spec.name} --gpu {d.gpu} --gpus {d.gpus} --tp {d.tp} --pp {d.pp} "
             f"--dp {d.dp} --ep {d.ep}" + (" --dp-attention" if d.dp_attention else ""),
             f"--weights {d.weights_dtype} --kv-dtype {d.kv_dtype} --max-model-len {d.max_model_len}",
             f"--engine {row.engine} --replicas {row.replicas} --max-num-seqs {row.batch_per_dp_rank}",
             f"--max-waiting {req.max_waiting} --managed {provider} --gpu-hourly-usd {row.gpu_hourly_usd:g}"]
    if req.ttft_p95_ms is not None:
        parts.append(f"--ttft-p95-ms {req.ttft_p95_ms:g}")
    if req.prices_path is not None:
        parts.append(f"--prices {req.prices_path}")
    return " ".join(parts)


def plan_for_trace(spec: ModelSpec, trace: Trace, req: TracePlanRequest, prices: list[ManagedPrice]) -> TracePlanResult:
    """Rows for every mix, the cheapest that meets the SLO marked (see the module docstring)."""
    if not trace.records:
        raise PlannerInputError(f"{trace.source}: no requests to plan for")
    span = max(trace.span_s, 1.0)
    n = len(trace.records)
    prompt, _, output = _mix_tokens(trace)
    mean_in, mean_out = prompt / n, output / n
    mean_rps, peak_rps = n / span, peak_requests_per_s(trace)
    price, latency, managed_ok = _choose_provider(prices, trace, req)
    scale = SECONDS_PER_MONTH / span
    steady = search(spec, PlanRequest(
        input_len=max(1, round(mean_in)), output_len=max(1, round(mean_out)), requests_per_s=mean_rps,
        ttft_p95_ms=req.ttft_p95_ms, tpot_ms=req.tpot_ms, gpus=req.gpus, weights=req.weights, engines=req.engines,
        kv_dtype=req.kv_dtype, max_model_len=req.max_model_len, gpu_memory_utilization=req.gpu_memory_utilization,
        gpu_hourly_usd=req.gpu_hourly_usd, top=req.candidates, disaggregated=False,
    ))
    rows: list[MixRow] = []

    def add(candidate: PlanCandidate | None, replicas: int, timing=None) -> None:
        in_flight = candidate.batch_per_dp_rank * candidate.deployment.dp if candidate is not None else 0
        outcome = simulate_mix(trace, timing, replicas, in_flight, req.max_waiting, latency, price)
        gpu_monthly = replicas * candidate.deployment.gpus * candidate.gpu_hourly_usd * HOURS_PER_MONTH if candidate else 0.0
        managed_monthly = outcome.managed_usd * scale
        attainment = _attainment(outcome.ttft_s, req)
        tpots = [t for t in outcome.tpot_s if t is not None]
        tpot_mean_ms = round(sum(tpots) / len(tpots) * 1000, 2) if tpots else None
        tpot_ok = req.tpot_ms is None or tpot_mean_ms is None or tpot_mean_ms <= req.tpot_ms
        rows.append(MixRow(
            deployment=candidate.deployment if candidate else None, engine=candidate.engine if candidate else None,
            replicas=replicas, batch_per_dp_rank=candidate.batch_per_dp_rank if candidate else None,
            gpu_hourly_usd=candidate.gpu_hourly_usd if candidate else None,
            self_hosted_share=round(outcome.self_hosted_requests / n, 4), slo_attainment=round(attainment, 4),
            ttft_p95_ms=percentiles_ms(outcome.ttft_s).p95,
            tpot_mean_ms=tpot_mean_ms,
            gpu_monthly_usd=round(gpu_monthly, 2), managed_monthly_usd=round(managed_monthly, 2),
            monthly_usd=round(gpu_monthly + managed_monthly, 2), meets_slo=attainment >= req.slo_attainment and tpot_ok,
        ))

    add(None, 0)
    for candidate in steady.best:
        timing = replica_timing(_deployment_spec(spec, candidate), candidate.engine)
        most = min(req.max_replicas, math.ceil(peak_rps / max(candidate.replica_requests_per_s, 1e-9)) + 1)
        for replicas in range(1, most + 1):
            add(candidate, replicas, timing)
    meeting = [i for i, row in enumerate(rows) if row.meets_slo]
    best = min(meeting, key=lambda i: (rows[i].monthly_usd, i)) if meeting else None
    if best is not None:
        rows[best] = rows[best].model_copy(update={"cheapest": True})
    explanation = steady.explanation
    if best is None:
        explanation = (f"no mix reaches {req.slo_attainment:.0%} SLO attainment"
                       + (f"; {steady.explanation}" if steady.explanation else ""))
    elif not managed_ok:
        explanation = f"no managed provider meets the SLOs by its default latency; spilling to the cheapest, {price.provider}"
    return TracePlanResult(
        model=spec.name, trace=trace.source, requests=n, span_s=round(span, 3), mean_requests_per_s=round(mean_rps, 4),
        peak_requests_per_s=round(peak_rps, 4), mean_input_tokens=round(mean_in, 1), mean_output_tokens=round(mean_out, 1),
        managed_provider=price.provider, managed_model_id=price.model_id, managed_latency_source=latency.source,
        managed_meets_slo=managed_ok, rows=rows, best=best, explanation=explanation,
        emit_command=emit_command(spec, rows[best], price.provider, req) if best is not None else None,
    )
