"""Fit one engine profile's constants to a set of measurement points (pure Python, no numpy).

Loss: the sum over points and measured metrics of weight x log(predicted / measured)^2 (so a 2x
error costs the same in either direction), plus a weak prior pulling each constant toward the
shipped value in log space so that constants a fold's points do not constrain stay where physics and
the other sources put them. Minimised by coordinate descent: golden-section search of each constant
in log space within its bounds, a few sweeps. One set of constants per engine, never per point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from planner_points import METRICS, Point, predict

from planner.engine import FITTED_FIELDS, EngineProfile

__all__ = ["BOUNDS", "METRIC_WEIGHTS", "PRIOR", "fit_engine", "loss", "prior_profile"]

BOUNDS: dict[str, tuple[float, float]] = {
    "bandwidth_efficiency": (0.2, 0.95),
    "gemm_efficiency": (0.1, 0.9),
    "attention_efficiency": (0.05, 0.9),
    "layer_overhead_s": (1e-6, 600e-6),
    "step_overhead_s": (1e-5, 30e-3),
    "seq_overhead_s": (1e-7, 300e-6),
    "request_overhead_s": (1e-3, 1.0),
    "frontend_token_s": (1e-6, 2e-3),
    "comm_overlap": (0.01, 0.95),
}
"""Physically plausible ranges: efficiencies below datasheet peaks, overheads from microseconds to a
few tens of milliseconds."""

METRIC_WEIGHTS: dict[str, float] = {
    "tpot_ms": 1.0, "output_tokens_per_s_per_gpu": 1.0, "prefill_tokens_per_s_per_gpu": 1.0, "ttft_ms": 0.5,
}
PRIOR: dict[str, float] = {
    "bandwidth_efficiency": 0.7, "gemm_efficiency": 0.5, "attention_efficiency": 0.5, "layer_overhead_s": 50e-6,
    "step_overhead_s": 2e-3, "seq_overhead_s": 10e-6, "request_overhead_s": 20e-3, "frontend_token_s": 100e-6,
    "comm_overlap": 0.3,
}
"""The data-free starting point and prior of every fit (the same for every engine, so leave-one-source-out
folds start from nothing the left-out source could have shaped): ~70% of HBM bandwidth and ~50% of
tensor-core peak (typical of tuned inference kernels), tens of microseconds per layer, milliseconds per step."""
PRIOR_WEIGHT = 0.1
_GOLDEN = (math.sqrt(5) - 1) / 2


def loss(points: Sequence[Point], engine: EngineProfile, prior: EngineProfile | None = None) -> float:
    total = 0.0
    for point in points:
        try:
            predicted = predict(point, engine)
        except (RuntimeError, ValueError, ZeroDivisionError):
            return float("inf")
        for metric, value in point.measured.items():
            if metric in METRICS and metric in predicted and predicted[metric] > 0:
                total += METRIC_WEIGHTS[metric] * math.log(predicted[metric] / value) ** 2
    if prior is not None:
        for name in FITTED_FIELDS:
            total += PRIOR_WEIGHT * math.log(getattr(engine, name) / getattr(prior, name)) ** 2
    return total


def _golden(f: Callable[[float], float], low: float, high: float, iterations: int) -> float:
    a, b = low, high
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = f(d)
    return (a + b) / 2


def prior_profile(engine: EngineProfile) -> EngineProfile:
    """`engine` with its fitted constants replaced by PRIOR (scheduler and defaults kept)."""
    return engine.model_copy(update=PRIOR)


def fit_engine(points: Sequence[Point], engine: EngineProfile, *, sweeps: int = 2,
               iterations: int = 8) -> tuple[EngineProfile, float]:
    """`engine`'s constants fitted to `points`, starting from and pulled toward PRIOR; (profile, loss)."""
    prior = prior_profile(engine)
    current = prior
    best = loss(points, current, prior)
    for sweep in range(sweeps):
        for name in FITTED_FIELDS:
            low, high = BOUNDS[name]
            value = getattr(current, name)
            # search a window around the current value (narrowing each sweep), in log space
            span = 3.0 / (sweep + 1)
            lo = max(math.log(low), math.log(value) - span)
            hi = min(math.log(high), math.log(value) + span)

            def f(x: float, name: str = name) -> float:
                return loss(points, current.model_copy(update={name: math.exp(x)}), prior)

            x = _golden(f, lo, hi, iterations)
            candidate = current.model_copy(update={name: math.exp(x)})
            value_loss = loss(points, candidate, prior)
            if value_loss < best:
                current, best = candidate, value_loss
    return current, best
