"""Synthetic traces: arrivals (Poisson, diurnal, bursty) and lengths (lognormal or empirical), seeded.

Arrivals are a Poisson process whose rate may vary in time, drawn by thinning (Lewis and Shedler,
"Simulation of nonhomogeneous Poisson processes by thinning", 1979): candidates at the peak rate,
each kept with probability rate(t) / peak.
- `poisson`: rate(t) = rps;
- `diurnal`: rate(t) = rps x (1 - amplitude x cos(2 pi t / period_s)): a trough at t = 0 and a peak
  of rps x (1 + amplitude) half a period later (a day by default; shorten `period_s` to compress it);
- `bursty`: a Markov-modulated Poisson process: bursts of `burst_s` seconds at `burst_factor` x the
  base rate start after exponential gaps of mean `burst_every_s`; the base rate is set so that the
  mean stays `rps`.
Lengths: `lognormal` with the given medians and sigmas (LLM prompt and answer lengths are roughly
lognormal, e.g. the Splitwise and BurstGPT analyses of the Azure and BurstGPT traces), clipped to
[1, max]; or `empirical`: (input, output) pairs drawn with replacement from another trace.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.trace.record import Trace, TraceRecord

__all__ = ["TraceShape", "generate_trace", "arrival_times"]

Positive = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class TraceShape(BaseModel):
    """What to generate (the flags of `gateway trace generate`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_s: Positive = 3600.0
    rps: Positive = 10.0
    arrival: Literal["poisson", "diurnal", "bursty"] = "poisson"
    amplitude: Annotated[float, Field(ge=0, le=1)] = 0.6
    period_s: Positive = 86_400.0
    burst_factor: Annotated[float, Field(ge=1)] = 4.0
    burst_s: Positive = 20.0
    burst_every_s: Positive = 120.0
    lengths: Literal["lognormal", "empirical"] = "lognormal"
    input_median: Annotated[int, Field(ge=1)] = 1000
    input_sigma: Annotated[float, Field(ge=0)] = 1.0
    input_max: Annotated[int, Field(ge=1)] = 100_000
    output_median: Annotated[int, Field(ge=1)] = 250
    output_sigma: Annotated[float, Field(ge=0)] = 0.8
    output_max: Annotated[int, Field(ge=1)] = 8192
    model: str | None = "auto"
    stream_share: Share = 0.0
    thinking_share: Share = 0.0
    cached_share: Share = Field(0.0, description="share of each prompt served from a prefix cache")
    max_tokens: bool = Field(False, description="set max_tokens to each answer's length")
    seed: int = 0


def _bursts(shape: TraceShape, rng: random.Random) -> list[tuple[float, float]]:
    windows, t = [], rng.expovariate(1.0 / shape.burst_every_s)
    while t < shape.duration_s:
        windows.append((t, t + shape.burst_s))
        t += shape.burst_s + rng.expovariate(1.0 / shape.burst_every_s)
    return windows


def arrival_times(shape: TraceShape, rng: random.Random) -> Iterator[float]:
    """Arrival times in [0, duration_s), increasing."""
    if shape.arrival == "poisson":
        peak, rate_at = shape.rps, None
    elif shape.arrival == "diurnal":
        peak = shape.rps * (1 + shape.amplitude)
        omega = 2 * math.pi / shape.period_s
        rps, amplitude = shape.rps, shape.amplitude

        def rate_at(t: float) -> float:
            return rps * (1 - amplitude * math.cos(omega * t))
    else:
        duty = shape.burst_s / (shape.burst_s + shape.burst_every_s)
        base = shape.rps / (1 + (shape.burst_factor - 1) * duty)
        peak = base * shape.burst_factor
        windows = _bursts(shape, rng)
        position = [0]

        def rate_at(t: float) -> float:
            i = position[0]
            while i < len(windows) and windows[i][1] <= t:
                i += 1
            position[0] = i
            return peak if i < len(windows) and windows[i][0] <= t else base
    t = 0.0
    while True:
        t += rng.expovariate(peak)
        if t >= shape.duration_s:
            return
        if rate_at is None or rng.random() * peak < rate_at(t):
            yield t


def _lognormal(rng: random.Random, median: int, sigma: float, cap: int) -> int:
    return max(1, min(cap, round(median * math.exp(sigma * rng.gauss(0.0, 1.0)))))


def generate_trace(shape: TraceShape, empirical: Trace | None = None) -> Trace:
    """A trace of `shape`; `empirical` supplies the (input, output) pairs for `lengths: empirical`."""
    rng = random.Random(shape.seed)
    lengths_rng = random.Random(shape.seed + 1)  # lengths do not shift when the arrival process changes
    pairs = [(r.prompt_tokens, max(1, r.output_tokens)) for r in empirical.records] if empirical else []
    if shape.lengths == "empirical" and not pairs:
        raise ValueError("lengths: empirical needs a trace to draw (input, output) pairs from")
    records = []
    for t in arrival_times(shape, rng):
        if shape.lengths == "empirical":
            prompt, output = pairs[lengths_rng.randrange(len(pairs))]
        else:
            prompt = _lognormal(lengths_rng, shape.input_median, shape.input_sigma, shape.input_max)
            output = _lognormal(lengths_rng, shape.output_median, shape.output_sigma, shape.output_max)
        stream = lengths_rng.random() < shape.stream_share
        thinking = True if lengths_rng.random() < shape.thinking_share else None
        records.append(TraceRecord(
            t=t, model=shape.model, input_tokens=prompt, output_tokens=output,
            cached_tokens=int(prompt * shape.cached_share), stream=stream, thinking=thinking,
            max_tokens=output if shape.max_tokens else None,
        ))
    return Trace(records, f"generated ({shape.arrival}, {shape.rps:g} req/s, {shape.duration_s:g} s, seed {shape.seed})")
