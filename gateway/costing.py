"""What one upstream attempt cost: per-token billing, and a self-hosted backend's amortised GPU share.

The two are reported apart. `managed_usd` is what a per-token price bills (a managed provider's
price, or a self-hosted backend's marginal price, usually 0); `self_hosted_usd` is the share of
the fixed GPU spend behind a self-hosted backend that this attempt used.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from backends.usage import Usage
from policies.pricing import BackendPrice, resolve_price
from policies.schema import BackendSpec, Policy

__all__ = ["AttemptCost", "CostBook", "ThroughputMeter", "managed_cost_usd", "NANO_USD_PER_USD", "to_nano_usd"]

NANO_USD_PER_USD = 1_000_000_000
SECONDS_PER_HOUR = 3600.0


def to_nano_usd(usd: float | None) -> int | None:
    """USD as whole nano-dollars, so that sums over many records are exact integers."""
    return None if usd is None else round(usd * NANO_USD_PER_USD)


@dataclass(frozen=True, slots=True)
class AttemptCost:
    """USD of one attempt; None where it cannot be known (no price, or no usage reported)."""

    managed_usd: float | None
    self_hosted_usd: float | None


def managed_cost_usd(price: BackendPrice, usage: Usage) -> float:
    """Per-token bill of one response.

    cost = ((prompt - cached) x input + cached x cached_input + completion x output) / 1e6, USD per
    million tokens. Cache hits are billed at the cache-hit price (api-docs.deepseek.com/quick_start/
    pricing: "input (cache hit)"). Reasoning tokens are already inside `completion_tokens` in every
    OpenAI-compatible usage object and are billed at the output price (DeepSeek: "output tokens,
    including chain-of-thought"), so they are not added again.
    """
    return price.cost_usd(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)


class ThroughputMeter:
    """Tokens each self-hosted backend processed recently, in one-second buckets over `window_s`."""

    def __init__(self, window_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._buckets: dict[str, deque[list[float]]] = {}  # backend -> [second, tokens]
        self._first_seen_s: dict[str, float] = {}

    def add(self, backend: str, tokens: int, busy_s: float) -> None:
        """Count `tokens` served by `backend` over the last `busy_s` seconds."""
        now = self._clock()
        self._first_seen_s.setdefault(backend, now - max(busy_s, 0.0))
        buckets = self._buckets.setdefault(backend, deque())
        second = float(int(now))
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += tokens
        else:
            buckets.append([second, float(tokens)])
        while buckets and buckets[0][0] <= now - self.window_s:
            buckets.popleft()

    def tokens_per_s(self, backend: str) -> float | None:
        """Observed throughput: tokens in the window over the window's observed span (at least 1 s)."""
        buckets = self._buckets.get(backend)
        if not buckets:
            return None
        span_s = min(self.window_s, self._clock() - self._first_seen_s[backend])
        return sum(tokens for _, tokens in buckets) / max(span_s, 1.0)


@dataclass(frozen=True, slots=True)
class _Costing:
    price: BackendPrice | None
    gpu_usd_per_s: float | None  # self-hosted only, when the policy gives cost.gpu_hourly_usd
    family: str | None


class CostBook:
    """Prices every backend of one policy; `cost` is cheap enough to run per attempt."""

    def __init__(self, policy: Policy, meter: ThroughputMeter | None = None) -> None:
        self.meter = meter or ThroughputMeter()
        self._backends = {name: self._costing(spec) for name, spec in policy.backends.items()}

    @staticmethod
    def _costing(spec: BackendSpec) -> _Costing:
        gpu_usd_per_s = None
        if spec.self_hosted and spec.cost is not None and spec.cost.gpu_hourly_usd is not None:
            gpu_usd_per_s = spec.cost.gpu_hourly_usd * (spec.cost.gpus or 1) / SECONDS_PER_HOUR
        return _Costing(price=resolve_price(spec), gpu_usd_per_s=gpu_usd_per_s, family=spec.family)

    def family(self, backend: str) -> str | None:
        costing = self._backends.get(backend)
        return costing.family if costing else None

    def cost(self, backend: str, usage: Usage | None, latency_ms: float) -> AttemptCost:
        """Cost of one attempt on `backend` that reported `usage` (None: nothing billable known)."""
        costing = self._backends.get(backend)
        if costing is None or usage is None:
            return AttemptCost(None, None)
        managed = managed_cost_usd(costing.price, usage) if costing.price is not None else None
        return AttemptCost(managed, self._amortised_usd(backend, costing, usage, latency_ms))

    def _amortised_usd(self, backend: str, costing: _Costing, usage: Usage, latency_ms: float) -> float | None:
        """This attempt's share of the GPU spend.

        share = tokens x (gpu_hourly_usd x gpus / 3600) / observed_tokens_per_s, where tokens =
        uncached prompt + completion tokens, the work this attempt put on the GPUs, and the
        throughput is what this gateway observed over `ThroughputMeter.window_s`. Summed over the
        window, the shares add up to the GPU spend of the window (the usual amortisation of a fixed
        cost by output volume, as in the planner's USD per Mtok). With several replicas each sees
        only its own traffic, so each replica over-attributes by the replica count; that is stated
        in the README.
        """
        if costing.gpu_usd_per_s is None:
            return None
        tokens = usage.uncached_prompt_tokens + usage.completion_tokens
        self.meter.add(backend, tokens, latency_ms / 1000)
        throughput = self.meter.tokens_per_s(backend)
        if not throughput:
            return 0.0
        return tokens * costing.gpu_usd_per_s / throughput
