"""`planner estimate`: one request in, one report out (the JSON contract of `planner estimate --json`).

Contract keys (later work may add keys, never rename them):
  model.{name,total_params,active_params}
  deployment.{gpu,gpus,tp,pp,dp,ep,weights_dtype,kv_dtype}
  memory.{weights_gib_per_gpu,kv_bytes_per_token,kv_cache_gib_per_gpu,kv_cache_tokens,max_concurrency,fits,reason}
  performance.{ttft_ms,tpot_ms,prefill_tokens_per_s,output_tokens_per_s,output_tokens_per_s_per_gpu,output_tokens_per_s_per_user}
  cost.{gpu_hourly_usd,monthly_usd,usd_per_million_output_tokens,usd_per_million_input_tokens,managed}
Added later (new keys only): workload.role, performance.replayed_prompts, performance.prefill_tokens_per_s_per_gpu,
deployment.{redundant_experts,eplb,tbo}, disaggregation (null unless a prefill pool is given: both pools,
the KV hand-off, end-to-end TTFT/TPOT/throughput).
`performance` and `cost` are null when the deployment does not fit.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.batching import PerformanceEstimate, Workload, estimate_performance
from planner.catalog import load_gpu, load_model, load_model_config_file
from planner.cost import SECONDS_PER_DAY, CostEstimate, Traffic, estimate_cost
from planner.deployment import Deployment
from planner.disaggregation import DisaggregatedEstimate
from planner.engine import engine_profile
from planner.errors import PlannerInputError
from planner.gpu_spec import GpuSpec
from planner.layout import auto_gpu_counts, build_deployment
from planner.memory import MemoryEstimate, estimate_memory
from planner.model_spec import ModelSpec
from planner.params import param_counts

__all__ = ["EstimateRequest", "EstimateReport", "ModelSummary", "WorkloadSummary", "PrefillPoolRequest",
           "run_estimate", "resolve_model", "resolve_gpu", "evaluate"]

MAX_SEQUENCE_TOKENS = 10_000_000
"""Lengths above ten million tokens are rejected as absurd (no catalog model has a context that long)."""


class PrefillPoolRequest(BaseModel):
    """The prefill pool of a disaggregated deployment (`--prefill-*` flags); the main flags describe the decode pool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu: str | None = None
    """Defaults to the decode pool's GPU."""
    gpus: int = Field(default=8, ge=1)
    tp: int | None = Field(default=None, ge=1)
    dp: int | None = Field(default=None, ge=1)
    ep: int = Field(default=1, ge=1)
    dp_attention: bool = False
    instances: int = Field(default=1, ge=1)


class EstimateRequest(BaseModel):
    """Everything `planner estimate` takes; the CLI flags map one to one onto these fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    model: str | None = "deepseek-v3.2"
    model_config_path: str | None = None
    gpu: str = "h200"
    gpus: int | Literal["auto"] = "auto"
    tp: int | None = Field(default=None, ge=1)
    pp: int | None = Field(default=None, ge=1)
    dp: int | None = Field(default=None, ge=1)
    ep: int = Field(default=1, ge=1)
    dp_attention: bool = False
    weights: Literal["bf16", "fp8", "int4", "nvfp4"] | None = None
    kv_dtype: Literal["auto", "bf16", "fp8"] = "auto"
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    input_len: int = 2048
    output_len: int = 512
    concurrency: int | None = None
    rps: float | None = None
    engine: str = "vllm"
    mtp: int = 0
    utilization: float = 0.6
    gpu_hourly_usd: float | None = None
    cache_hit_rate: float = 0.0
    tokens_per_day: float | None = None
    prices_path: str | None = None
    profile_path: str | None = None
    role: Literal["aggregated", "prefill", "decode"] = "aggregated"
    """`prefill` / `decode`: the flags describe one pool of a disaggregated deployment, estimated alone."""
    redundant_experts: int = Field(default=0, ge=0)
    eplb: bool = False
    tbo: bool = False
    benchmark_prompts: int | None = Field(default=None, ge=1)
    """Replay a benchmark of this many prompts (with --concurrency clients, or --rps) step by step."""
    prefill_pool: PrefillPoolRequest | None = None
    decode_instances: int = Field(default=1, ge=1)


class ModelSummary(BaseModel):
    """The `model.*` keys."""

    model_config = ConfigDict(frozen=True)

    name: str
    architecture: str
    total_params: int
    active_params: int
    main_params: int
    mtp_params: int
    params_by_component: dict[str, int]


class WorkloadSummary(BaseModel):
    """The traffic the estimate was made for."""

    model_config = ConfigDict(frozen=True)

    input_len: int
    output_len: int
    concurrency: int | None
    rps: float | None
    engine: str
    mtp: int
    role: str = "aggregated"


class EstimateReport(BaseModel):
    """What `planner estimate --json` prints."""

    model_config = ConfigDict(frozen=True)

    model: ModelSummary
    deployment: Deployment
    memory: MemoryEstimate
    workload: WorkloadSummary
    performance: PerformanceEstimate | None
    cost: CostEstimate | None
    disaggregation: DisaggregatedEstimate | None = None


def resolve_model(req: EstimateRequest) -> ModelSpec:
    if req.model_config_path:
        return load_model_config_file(req.model_config_path)
    if not req.model:
        raise PlannerInputError("give --model NAME or --model-config PATH")
    return load_model(req.model)


def resolve_gpu(req: EstimateRequest) -> GpuSpec:
    gpu = load_gpu(req.gpu)
    if req.profile_path:
        from planner.hardware_profile import apply_profile, load_profile

        gpu = apply_profile(gpu, load_profile(req.profile_path), req.profile_path)
    return gpu


def _check_request(req: EstimateRequest) -> None:
    """Reject negative, absurd and contradictory values with one line each."""
    for flag, value in (("--input-len", req.input_len), ("--output-len", req.output_len), ("--max-model-len", req.max_model_len)):
        if value is not None and not 0 < value <= MAX_SEQUENCE_TOKENS:
            raise PlannerInputError(f"{flag} must be between 1 and {MAX_SEQUENCE_TOKENS:,} tokens, got {value}")
    if req.gpus != "auto" and not 0 < req.gpus <= 4096:
        raise PlannerInputError(f"--gpus must be 'auto' or between 1 and 4096, got {req.gpus}")
    if not 0 < req.gpu_memory_utilization <= 1:
        raise PlannerInputError(f"--gpu-memory-utilization must be in (0, 1], got {req.gpu_memory_utilization}")
    if not 0 < req.utilization <= 1:
        raise PlannerInputError(f"--utilization must be in (0, 1], got {req.utilization}")
    if not 0 <= req.cache_hit_rate <= 1:
        raise PlannerInputError(f"--cache-hit-rate must be between 0 and 1, got {req.cache_hit_rate}")
    if req.concurrency is not None and req.rps is not None:
        raise PlannerInputError("give --concurrency or --rps, not both")
    if req.concurrency is not None and req.concurrency < 1:
        raise PlannerInputError(f"--concurrency must be at least 1, got {req.concurrency}")
    if req.rps is not None and req.rps <= 0:
        raise PlannerInputError(f"--rps must be positive, got {req.rps}")
    if req.gpu_hourly_usd is not None and req.gpu_hourly_usd < 0:
        raise PlannerInputError(f"--gpu-hourly-usd must not be negative, got {req.gpu_hourly_usd}")
    if req.tokens_per_day is not None and req.tokens_per_day <= 0:
        raise PlannerInputError(f"--tokens-per-day must be positive, got {req.tokens_per_day}")
    if req.gpus == "auto" and (req.tp or req.pp or req.dp or req.ep > 1 or req.dp_attention):
        raise PlannerInputError("--gpus auto chooses the parallelism itself; give --gpus N with --tp/--pp/--dp/--ep/--dp-attention")
    if req.prefill_pool is not None and req.role != "aggregated":
        raise PlannerInputError("--prefill-gpus describes the prefill pool of a whole disaggregated deployment; "
                                "--role estimates one pool alone: give one or the other")
    if req.benchmark_prompts is not None and req.concurrency is None and req.rps is None:
        raise PlannerInputError("--num-prompts replays a benchmark: give --concurrency (clients) or --rps with it")
    if req.role == "prefill" and req.mtp:
        raise PlannerInputError("--mtp applies to decoding; a prefill pool does not decode")


def _kv_dtype(spec: ModelSpec, requested: str) -> str:
    """`auto` = the engines' default: fp8 for DSA models (vLLM's fp8_ds_mla), bf16 otherwise."""
    if requested != "auto":
        return requested
    return "fp8" if spec.has_dsa else "bf16"


def _deployment_fields(spec: ModelSpec, req: EstimateRequest) -> dict[str, object]:
    return {
        "ep": req.ep,
        "dp_attention": req.dp_attention,
        "weights_dtype": req.weights or spec.native_weights_dtype,
        "kv_dtype": _kv_dtype(spec, req.kv_dtype),
        "max_model_len": req.max_model_len or spec.max_position_embeddings,
        "gpu_memory_utilization": req.gpu_memory_utilization,
        "redundant_experts": req.redundant_experts,
        "eplb": req.eplb,
        "tbo": req.tbo,
    }


def _choose_deployment(spec: ModelSpec, gpu: GpuSpec, req: EstimateRequest) -> tuple[Deployment, MemoryEstimate]:
    fields = _deployment_fields(spec, req)
    mtp_loaded = req.mtp > 0
    if req.gpus != "auto":
        dep = build_deployment(spec, gpu, req.gpus, req.tp, req.pp, req.dp, **fields)
        return dep, estimate_memory(spec, gpu, dep, req.input_len, req.output_len, mtp_loaded)
    last: tuple[Deployment, MemoryEstimate] | None = None
    for count in auto_gpu_counts(gpu.gpus_per_node):
        dep = build_deployment(spec, gpu, count, None, None, None, **fields)
        memory = estimate_memory(spec, gpu, dep, req.input_len, req.output_len, mtp_loaded)
        last = (dep, memory)
        if memory.fits:
            return last
    assert last is not None
    dep, memory = last
    reason = f"no deployment of up to {dep.gpus} x {gpu.name} fits: {memory.reason}"
    return dep, memory.model_copy(update={"reason": reason})


def evaluate(
    spec: ModelSpec, gpu: GpuSpec, dep: Deployment, memory: MemoryEstimate, req: EstimateRequest
) -> tuple[PerformanceEstimate, CostEstimate]:
    """Performance and cost of a deployment that fits."""
    engine = engine_profile(req.engine)
    if req.role == "prefill":
        perf = _prefill_pool_performance(spec, gpu, dep, req)
    else:
        load = Workload(input_len=req.input_len, output_len=req.output_len, concurrency=req.concurrency, rps=req.rps,
                        mtp=req.mtp, disaggregated_decode=req.role == "decode", benchmark_prompts=req.benchmark_prompts,
                        cached_input_tokens=_cached_tokens(req))
        perf = estimate_performance(spec, gpu, dep, engine, load, memory.kv_tokens_per_dp_rank)
    hourly = req.gpu_hourly_usd if req.gpu_hourly_usd is not None else float(gpu.usd_per_hour.value or 0)
    hourly_source = "--gpu-hourly-usd" if req.gpu_hourly_usd is not None else f"{gpu.usd_per_hour.source} ({gpu.usd_per_hour.date})"
    capacity = Traffic(
        input_tokens_per_day=perf.max_requests_per_s * SECONDS_PER_DAY * req.input_len,
        output_tokens_per_day=perf.max_requests_per_s * SECONDS_PER_DAY * req.output_len,
    )
    traffic = _traffic(req, perf.requests_per_s, perf.overloaded)
    from planner.prices import managed_prices

    # One pool of a disaggregated deployment serves half of each request: comparing it with a managed API's
    # price for whole requests would be meaningless, so a --role estimate lists no managed prices.
    prices = managed_prices(spec.name, req.prices_path) if req.role == "aggregated" else []
    cost = estimate_cost(dep.gpus, hourly, hourly_source, traffic, capacity, perf.prefill_share, req.utilization, prices, req.cache_hit_rate)
    return perf, cost


def _prefill_pool_performance(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, req: EstimateRequest) -> PerformanceEstimate:
    """A prefill pool alone: prompt tokens per second at full load, and the TTFT part a prompt spends here."""
    from planner.disaggregation import prefill_rank_tokens_per_s
    from planner.step_model import prefill_step_s

    engine = engine_profile(req.engine)
    cached = _cached_tokens(req)
    computed = max(1, req.input_len - cached)
    rate, step = prefill_rank_tokens_per_s(spec, gpu, dep, engine, req.input_len, cached)
    capacity = rate * dep.dp
    requests = capacity / computed
    offered = req.rps if req.rps is not None else requests * req.utilization
    u = min(offered / requests, 0.98) if requests else 0.0
    ttft = engine.request_overhead_s + prefill_step_s(spec, gpu, dep, engine, computed, cached + computed / 2) + u * step / (2 * (1 - u))
    note = None
    if req.rps is not None and req.rps >= requests:
        note = f"offered load {req.rps:g} req/s exceeds the pool's {requests:.3g} prompts/s"
    return PerformanceEstimate(
        ttft_ms=round(ttft * 1e3, 3), tpot_ms=0.0, prefill_tokens_per_s=round(capacity, 1), output_tokens_per_s=0.0,
        output_tokens_per_s_per_gpu=0.0, output_tokens_per_s_per_user=0.0, requests_per_s=round(offered, 4),
        concurrency=0, running_batch_per_dp_rank=0.0, max_batch_per_dp_rank=0, max_requests_per_s=round(requests, 4),
        prefill_share=1.0, overloaded=note is not None, note=note, engine=engine.name, mtp_accepted_tokens_per_step=1.0,
        decode_step_ms=0.0, prefill_tokens_per_s_per_gpu=round(capacity / dep.gpus, 1),
    )


def _evaluate_disaggregated(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, memory: MemoryEstimate,
                            req: EstimateRequest) -> tuple[DisaggregatedEstimate, PerformanceEstimate, CostEstimate]:
    """The whole disaggregated deployment: its pools, the end-to-end performance keys, and its cost."""
    from planner.prices import managed_prices

    result, prefill, prefill_gpu = _disaggregated(spec, gpu, dep, memory, req)
    engine = engine_profile(req.engine)
    perf = PerformanceEstimate(
        ttft_ms=result.ttft_ms, tpot_ms=result.tpot_ms, prefill_tokens_per_s=result.prefill.prefill_tokens_per_s,
        output_tokens_per_s=result.output_tokens_per_s, output_tokens_per_s_per_gpu=result.output_tokens_per_s_per_gpu,
        output_tokens_per_s_per_user=round(1e3 / result.tpot_ms, 3) if result.tpot_ms else 0.0,
        requests_per_s=result.requests_per_s, concurrency=req.concurrency or round(result.decode.running_batch_per_dp_rank * dep.dp * req.decode_instances),
        running_batch_per_dp_rank=result.decode.running_batch_per_dp_rank, max_batch_per_dp_rank=result.decode.max_batch_per_dp_rank,
        max_requests_per_s=result.max_requests_per_s, prefill_share=0.0, overloaded=result.overloaded, note=result.note,
        engine=engine.name, mtp_accepted_tokens_per_step=1.0, decode_step_ms=result.decode.step_ms,
        prefill_tokens_per_s_per_gpu=round(result.prefill.prefill_tokens_per_s / result.prefill.gpus, 1),
    )
    hourly_decode = req.gpu_hourly_usd if req.gpu_hourly_usd is not None else float(gpu.usd_per_hour.value or 0)
    hourly_prefill = req.gpu_hourly_usd if req.gpu_hourly_usd is not None else float(prefill_gpu.usd_per_hour.value or 0)
    hourly_total = hourly_decode * result.decode.gpus + hourly_prefill * result.prefill.gpus
    source = "--gpu-hourly-usd" if req.gpu_hourly_usd is not None else f"{gpu.usd_per_hour.source} ({gpu.usd_per_hour.date})"
    day = SECONDS_PER_DAY
    capacity = Traffic(input_tokens_per_day=result.max_requests_per_s * day * req.input_len,
                       output_tokens_per_day=result.max_requests_per_s * day * req.output_len)
    # With no load given the pools already run at --utilization of their capacity: price that load as it is.
    given = req if (req.concurrency is not None or req.rps is not None) else req.model_copy(update={"rps": result.requests_per_s})
    traffic = _traffic(given, result.requests_per_s, result.overloaded)
    prices = managed_prices(spec.name, req.prices_path)
    cost = estimate_cost(result.gpus, hourly_total / result.gpus, source, traffic, capacity,
                         result.prefill.gpus / result.gpus, req.utilization, prices, req.cache_hit_rate)
    return result, perf, cost


def _cached_tokens(req: EstimateRequest) -> int:
    """Prompt tokens per request served from the prefix cache (--cache-hit-rate; plan uses the same)."""
    return round(req.input_len * req.cache_hit_rate)


def _traffic(req: EstimateRequest, requests_per_s: float, overloaded: bool) -> Traffic:
    """The traffic the cost comparison prices: --tokens-per-day, the --rps load, or capacity x utilisation."""
    requests_per_day = requests_per_s * SECONDS_PER_DAY
    if req.tokens_per_day is not None:
        share_in = req.input_len / (req.input_len + req.output_len)
        return Traffic(input_tokens_per_day=req.tokens_per_day * share_in, output_tokens_per_day=req.tokens_per_day * (1 - share_in))
    scale = 1.0 if (req.rps is not None and not overloaded) else req.utilization
    return Traffic(input_tokens_per_day=requests_per_day * req.input_len * scale,
                   output_tokens_per_day=requests_per_day * req.output_len * scale)


def _disaggregated(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, memory: MemoryEstimate,
                   req: EstimateRequest) -> tuple[DisaggregatedEstimate, Deployment, GpuSpec]:
    """Both pools: `dep` decodes, the `--prefill-*` pool prefills."""
    from planner.disaggregation import estimate_disaggregated

    pool = req.prefill_pool
    prefill_gpu = load_gpu(pool.gpu) if pool.gpu else gpu
    fields = _deployment_fields(spec, req)
    prefill = build_deployment(spec, prefill_gpu, pool.gpus, pool.tp, None, pool.dp,
                               **{**fields, "ep": pool.ep, "dp_attention": pool.dp_attention})
    prefill_memory = estimate_memory(spec, prefill_gpu, prefill, req.input_len, 1)
    if not prefill_memory.fits:
        raise PlannerInputError(f"the prefill pool does not fit: {prefill_memory.reason}")
    def run(concurrency: int | None, rps: float | None) -> DisaggregatedEstimate:
        return estimate_disaggregated(
            spec, prefill_gpu, prefill, pool.instances, gpu, dep, req.decode_instances, engine_profile(req.engine),
            req.input_len, req.output_len, memory.kv_tokens_per_dp_rank, concurrency=concurrency, rps=rps,
            mtp=req.mtp, cached_input_tokens=_cached_tokens(req),
        )

    result = run(req.concurrency, req.rps)
    if req.concurrency is None and req.rps is None:  # no load given: --utilization of the bottleneck pool's capacity
        result = run(None, result.max_requests_per_s * req.utilization)
    return result, prefill, prefill_gpu


def run_estimate(req: EstimateRequest) -> EstimateReport:
    """Size, time and price one deployment (or the smallest that fits, for `gpus="auto"`)."""
    _check_request(req)
    spec = resolve_model(req)
    gpu = resolve_gpu(req)
    engine_profile(req.engine)
    if req.mtp and not spec.mtp_layers:
        raise PlannerInputError(f"--mtp {req.mtp}: {spec.name} has no MTP layers (num_nextn_predict_layers)")
    dep, memory = _choose_deployment(spec, gpu, req)
    perf = cost = disaggregation = None
    if memory.fits and req.prefill_pool is not None:
        disaggregation, perf, cost = _evaluate_disaggregated(spec, gpu, dep, memory, req)
    elif memory.fits:
        perf, cost = evaluate(spec, gpu, dep, memory, req)
    counts = param_counts(spec)
    return EstimateReport(
        model=ModelSummary(
            name=spec.name,
            architecture=spec.architecture,
            total_params=counts.total,
            active_params=counts.active,
            main_params=counts.main,
            mtp_params=counts.mtp,
            params_by_component=counts.by_component,
        ),
        deployment=dep,
        memory=memory,
        workload=WorkloadSummary(
            input_len=req.input_len, output_len=req.output_len, concurrency=req.concurrency, rps=req.rps,
            engine=req.engine, mtp=req.mtp, role=req.role,
        ),
        performance=perf,
        cost=cost,
        disaggregation=disaggregation,
    )
