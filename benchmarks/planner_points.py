"""The public measurements of planner/data/measurements.yaml as typed points, and the planner's prediction for each.

Shared by benchmarks/planner_accuracy.py (errors, fit, leave-one-source-out) and
benchmarks/planner_vs_aiconfigurator.py. A point is predicted exactly as its benchmark ran: a replay
of its arrival pattern (burst, closed loop, fixed rate) through planner.scheduler, a steady state for
fixed-batch figures, or the prefill / decode pool of a disaggregated deployment.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field  # noqa: E402

from planner.batching import Workload, estimate_performance  # noqa: E402
from planner.catalog import load_gpu, load_model  # noqa: E402
from planner.deployment import Deployment  # noqa: E402
from planner.disaggregation import prefill_rank_tokens_per_s  # noqa: E402
from planner.engine import EngineProfile, engine_profile  # noqa: E402
from planner.gpu_spec import SourcedFigure  # noqa: E402
from planner.layout import build_deployment  # noqa: E402
from planner.memory import estimate_memory  # noqa: E402

__all__ = ["DEFAULT_FILE", "METRICS", "Point", "load_points", "predict", "point_deployment"]

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "planner" / "data" / "measurements.yaml"
METRICS: tuple[str, ...] = ("tpot_ms", "output_tokens_per_s_per_gpu", "prefill_tokens_per_s_per_gpu", "ttft_ms")


class RunSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    arrival: Literal["burst", "closed_loop", "rate", "steady"]
    requests: int | None = None
    concurrency: int | None = None
    request_rate: float | None = None


class Point(BaseModel):
    """One published measurement and the configuration needed to reproduce it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    source_id: str
    source: str
    measured: dict[str, float] = Field(default_factory=dict)
    skip: str | None = None
    scope: Literal["fit", "legacy"] = "fit"
    engine: str | None = None
    engine_release: str | None = None
    model: str | None = None
    gpu: str | None = None
    deployment: dict | None = None
    weights: str | None = None
    kv_dtype: str | None = None
    input_len: int | None = None
    output_len: int | None = None
    cached_input_tokens: int = 0
    run: RunSpec | None = None
    role: Literal["aggregated", "prefill", "decode"] = "aggregated"
    mtp: int = 0
    mtp_accepted_tokens: float | None = None
    max_model_len: int | None = None
    max_running: int | None = None
    batch_tokens: int | None = None
    gpu_memory_mib: float | None = None
    assumption: str | None = None


def load_points(path: Path = DEFAULT_FILE) -> list[Point]:
    return [Point(**raw) for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["points"]]


def point_deployment(point: Point) -> Deployment:
    spec, gpu = load_model(point.model), _gpu(point)
    layout = dict(point.deployment)
    return build_deployment(
        spec, gpu, layout.pop("gpus"), layout.pop("tp", None), layout.pop("pp", None), layout.pop("dp", None),
        weights_dtype=point.weights, kv_dtype=point.kv_dtype,
        max_model_len=point.max_model_len or point.input_len + point.output_len, **layout,
    )


def _gpu(point: Point):
    gpu = load_gpu(point.gpu)
    if point.gpu_memory_mib:  # a variant of the catalog GPU, stated in the point's `assumption`
        figure = SourcedFigure(value=point.gpu_memory_mib, source=point.assumption or "", date="n/a")
        gpu = gpu.model_copy(update={"memory_mib": figure})
    return gpu


def predict(point: Point, engine: EngineProfile | None = None) -> dict[str, float]:
    """The planner's figures for `point` (keys of METRICS it can produce), with `engine` overriding the profile."""
    spec, gpu = load_model(point.model), _gpu(point)
    dep = point_deployment(point)
    engine = engine or engine_profile(point.engine)
    if point.role == "prefill":
        rate, _ = prefill_rank_tokens_per_s(spec, gpu, dep, engine, point.input_len, point.cached_input_tokens,
                                            point.batch_tokens * dep.tp if point.batch_tokens else None)
        return {"prefill_tokens_per_s_per_gpu": rate * dep.dp / dep.gpus}
    memory = estimate_memory(spec, gpu, dep, point.input_len, point.output_len, point.mtp > 0)
    if not memory.fits:
        raise RuntimeError(f"{point.id}: planner says it does not fit: {memory.reason}")
    run = point.run
    replay = run.arrival in ("burst", "closed_loop", "rate")
    load = Workload(
        input_len=point.input_len, output_len=point.output_len,
        concurrency=run.concurrency if run.arrival != "rate" else None,
        rps=run.request_rate if run.arrival == "rate" else None,
        mtp=point.mtp, disaggregated_decode=point.role == "decode", burst=run.arrival == "burst",
        benchmark_prompts=run.requests if replay else None, cached_input_tokens=point.cached_input_tokens,
        mtp_accepted_tokens=point.mtp_accepted_tokens,
    )
    kv_tokens = memory.kv_tokens_per_dp_rank
    if point.max_running:  # an engine cap below the KV limit, stated in the point
        kv_tokens = min(kv_tokens, int(point.max_running * (point.input_len + point.output_len / 2)))
    return estimate_performance(spec, gpu, dep, engine, load, kv_tokens).model_dump()
