"""`/admin/planner/*`: the planner's estimate and plan, in-process, for the console's Planner page.

Both run in a worker thread (`asyncio.to_thread`): a plan search takes about a second of CPU,
which must never stall the event loop relaying requests; at most `MAX_CONCURRENT_JOBS` run at
once. Each answer carries the cost-versus-traffic curve (`planner.plot.cost_curve`: the
deployment's stepped monthly cost as replicas are added, and each managed provider's linear
cost) that the console draws. Server-side files (`*_path` fields) cannot be named from here.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.api.auth import require_admin_key, require_admin_write
from gateway.errors import InvalidRequestError
from planner.cost import SECONDS_PER_DAY
from planner.errors import PlannerInputError
from planner.estimate import MAX_SEQUENCE_TOKENS, EstimateReport, EstimateRequest
from planner.plot import CostCurve
from planner.search import PlanResult

__all__ = ["router", "PlannerOptions", "EstimateAnswer", "PlanForm", "PlanAnswer", "MAX_CONCURRENT_JOBS"]

router = APIRouter(prefix="/admin/planner", tags=["admin"], dependencies=[Depends(require_admin_key)])
MAX_CONCURRENT_JOBS = 2
_SERVER_FILES = ("model_config_path", "prices_path", "profile_path")
WeightsFormat = Literal["bf16", "fp8", "int4", "nvfp4"]


class PlannerOptions(BaseModel):
    """What the forms may choose from."""

    models: list[str]
    gpus: list[str]
    engines: list[str]
    weights: list[str]


@router.get("/options", response_model=PlannerOptions)
async def planner_options() -> PlannerOptions:
    from planner.catalog import gpu_names, model_names
    from planner.engine import ENGINES

    return PlannerOptions(models=list(model_names()), gpus=list(gpu_names()), engines=list(ENGINES),
                          weights=list(WeightsFormat.__args__))


class EstimateAnswer(BaseModel):
    """`POST /admin/planner/estimate`: `planner estimate --json`, and the cost curve of that deployment."""

    report: EstimateReport
    cost_curve: CostCurve | None = Field(description="None when the deployment does not fit.")


def _curve(replica_monthly_usd: float, replica_tokens_per_day: float, model: str, input_len: int, output_len: int,
           cache_hit_rate: float, label: str) -> CostCurve | None:
    from planner.plot import break_even_tokens_per_day, cost_curve
    from planner.prices import managed_prices

    if replica_monthly_usd <= 0 or replica_tokens_per_day <= 0:
        return None
    curve = cost_curve(replica_monthly_usd, replica_tokens_per_day, managed_prices(model, None),
                       input_share=input_len / (input_len + output_len), cache_hit_rate=cache_hit_rate, label=label, samples=120)
    crossings = {line.label: break_even_tokens_per_day(curve.self_hosted, line) for line in curve.managed}
    return curve.model_copy(update={"break_even_tokens_per_day": crossings})


def _estimate(request: EstimateRequest) -> EstimateAnswer:
    from planner.estimate import run_estimate

    report = run_estimate(request)
    curve = None
    if report.cost is not None:
        d = report.deployment
        curve = _curve(report.cost.monthly_usd, report.cost.capacity_tokens_per_day, report.model.name, request.input_len,
                       request.output_len, request.cache_hit_rate, f"{d.gpus} x {d.gpu} {d.layout}")
    return EstimateAnswer(report=report, cost_curve=curve)


async def _run(request: Request, func: Any, *args: Any) -> Any:
    """`func(*args)` in a worker thread, at most MAX_CONCURRENT_JOBS per app at once (the others wait on the
    loop, holding no thread); a PlannerInputError becomes a 400."""
    state = request.app.state
    jobs = getattr(state, "planner_jobs", None)
    if jobs is None:
        jobs = state.planner_jobs = asyncio.Semaphore(MAX_CONCURRENT_JOBS)  # made on the app's own loop
    async with jobs:
        try:
            return await asyncio.to_thread(func, *args)
        except PlannerInputError as exc:
            raise InvalidRequestError(str(exc)) from None


@router.post("/estimate", response_model=EstimateAnswer, dependencies=[Depends(require_admin_write)])
async def planner_estimate(request: Request, form: dict[str, Any] = Body(
        ..., description="`EstimateRequest` fields (`planner estimate` flags).")) -> EstimateAnswer:
    named = [name for name in _SERVER_FILES if form.get(name) is not None]
    if named:
        raise InvalidRequestError(f"{named[0]}: server-side files cannot be named from the console", param=named[0])
    try:
        estimate = EstimateRequest.model_validate(form)
    except ValidationError as exc:
        raise InvalidRequestError.from_validation(exc) from None
    return await _run(request, _estimate, estimate)


class PlanForm(BaseModel):
    """`POST /admin/planner/plan`: the flags of `planner plan`."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = "deepseek-v3.2"
    rps: float | None = Field(None, gt=0)
    tokens_per_day: float | None = Field(None, gt=0)
    input_len: int = Field(2048, ge=1, le=MAX_SEQUENCE_TOKENS)
    output_len: int = Field(512, ge=1, le=MAX_SEQUENCE_TOKENS)
    ttft_p95_ms: float | None = Field(None, gt=0)
    tpot_ms: float | None = Field(None, gt=0)
    gpus: list[str] = Field(default_factory=list, description="GPU types to consider; empty: all.")
    weights: list[WeightsFormat] = Field(default_factory=lambda: ["bf16", "fp8", "int4", "nvfp4"], min_length=1)
    engines: list[str] = Field(default_factory=lambda: ["vllm", "sglang"], min_length=1)
    gpu_hourly_usd: dict[str, float] = Field(default_factory=dict)
    cache_hit_rate: float = Field(0.0, ge=0, le=1)
    top: int = Field(10, ge=1, le=100)

    @model_validator(mode="after")
    def _one_load(self) -> PlanForm:
        if (self.rps is None) == (self.tokens_per_day is None):
            raise ValueError("give rps or tokens_per_day (one of them)")
        return self


class PlanAnswer(BaseModel):
    """`planner plan --json`, and the cost curve of its best deployment (None when none meets the SLOs)."""

    result: PlanResult
    cost_curve: CostCurve | None


def _plan(form: PlanForm) -> PlanAnswer:
    from planner.catalog import load_gpu
    from planner.engine import engine_profile
    from planner.estimate import resolve_model
    from planner.prices import managed_prices
    from planner.search import PlanRequest, search

    spec = resolve_model(EstimateRequest(model=form.model))
    for name in form.gpus:
        load_gpu(name)
    for engine in form.engines:
        engine_profile(engine)
    tokens_per_request = form.input_len + form.output_len
    rps = form.rps if form.rps is not None else form.tokens_per_day / tokens_per_request / SECONDS_PER_DAY
    request = PlanRequest(
        input_len=form.input_len, output_len=form.output_len, requests_per_s=rps, ttft_p95_ms=form.ttft_p95_ms,
        tpot_ms=form.tpot_ms, gpus=tuple(form.gpus), weights=tuple(form.weights), engines=tuple(form.engines),
        gpu_hourly_usd=form.gpu_hourly_usd, top=form.top,
    )
    result = search(spec, request, managed_prices(spec.name, None), form.cache_hit_rate)
    curve = None
    if result.best:
        best = result.best[0]
        d = best.deployment
        curve = _curve(best.monthly_usd / best.replicas, best.replica_requests_per_s * tokens_per_request * SECONDS_PER_DAY,
                       spec.name, form.input_len, form.output_len, form.cache_hit_rate,
                       f"{d.gpus} x {d.gpu} {d.weights_dtype} {d.layout} on {best.engine}")
    return PlanAnswer(result=result, cost_curve=curve)


@router.post("/plan", response_model=PlanAnswer, dependencies=[Depends(require_admin_write)])
async def planner_plan(form: PlanForm, request: Request) -> PlanAnswer:
    return await _run(request, _plan, form)
