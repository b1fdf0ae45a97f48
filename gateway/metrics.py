"""Prometheus metrics (`switchyard_*`), updated from attempt outcomes off the request path.

`on_outcome` (an `OutcomeHub` listener) and `observe_overhead` only append to a list; the list is
applied to the prometheus-client metrics when `/metrics` is scraped (`render`), or every
`APPLY_EVERY` items, so a request pays one list append per attempt. Gauges that describe the
present (circuit state, in-flight requests, budget remaining, ledger backlog) are read at
scrape time from the state store, the limit store and the ledger writer.

Labels carry backend, route and key *names* only, never a key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.outcomes import AttemptOutcome
from policies.state import StateSnapshot

__all__ = ["CONTENT_TYPE_LATEST", "GatewayMetrics", "NO_KEY", "NO_ROUTE"]

APPLY_EVERY = 2048
NO_KEY = "-"
NO_ROUTE = "-"
LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
TPOT_BUCKETS_S = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)
OVERHEAD_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


TOKEN_TYPES = ("prompt", "cached", "completion", "reasoning")


@dataclass(frozen=True, slots=True)
class _Children:
    """The metric children one kind of outcome updates."""

    requests: Any
    duration: Any
    ttft: Any
    tpot: Any
    fallbacks: Any
    tokens: tuple[Any, ...]  # in TOKEN_TYPES order
    cost: Any


class _PresentCollector(Collector):
    """Gauges read at scrape time from whoever knows the present."""

    def __init__(self) -> None:
        self.snapshot: Callable[[], StateSnapshot] | None = None
        self.budget_remaining: Callable[[], Iterable[tuple[str, float | None]]] | None = None
        self.ledger_backlog: Callable[[], tuple[int, int]] | None = None  # (buffered rows, dropped rows)

    def collect(self) -> Iterator[Metric]:
        if self.snapshot is not None:
            circuit = GaugeMetricFamily("switchyard_circuit_open", "1 while the backend's circuit breaker is open.",
                                        labels=["backend"])
            in_flight = GaugeMetricFamily("switchyard_backend_in_flight",
                                          "Requests open to the backend (all replicas with Redis).", labels=["backend"])
            for backend, state in sorted(self.snapshot().items()):
                circuit.add_metric([backend], 1.0 if state.circuit_open else 0.0)
                in_flight.add_metric([backend], float(state.in_flight))
            yield circuit
            yield in_flight
        if self.budget_remaining is not None:
            remaining = GaugeMetricFamily("switchyard_budget_remaining_usd",
                                          "The key's smallest remaining budget (daily, monthly or total), as last seen.",
                                          labels=["key"])
            for key, usd in self.budget_remaining():
                if usd is not None:
                    remaining.add_metric([key], usd)
            yield remaining
        if self.ledger_backlog is not None:
            buffered, dropped = self.ledger_backlog()
            yield GaugeMetricFamily("switchyard_ledger_buffered_records", "Usage records not yet durable.", value=buffered)
            yield CounterMetricFamily("switchyard_ledger_dropped_records", "Usage records dropped because every sink failed.",
                                      value=dropped)


class GatewayMetrics:
    """The gateway's registry; see the module docstring for the update path."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter("switchyard_requests", "Upstream attempts by route, backend and HTTP status.",
                                ["route", "backend", "status"], registry=r)
        self.duration = Histogram("switchyard_request_duration_seconds", "Upstream attempt latency, start to last byte.",
                                  ["route", "backend", "status"], buckets=LATENCY_BUCKETS_S, registry=r)
        self.ttft = Histogram("switchyard_time_to_first_token_seconds", "Time to the first token of successful attempts.",
                              ["route", "backend"], buckets=TTFT_BUCKETS_S, registry=r)
        self.tpot = Histogram("switchyard_time_per_output_token_seconds",
                              "Time per output token after the first, successful attempts.",
                              ["route", "backend"], buckets=TPOT_BUCKETS_S, registry=r)
        self.tokens = Counter("switchyard_tokens", "Tokens by backend, key and type (prompt, cached, completion, reasoning).",
                              ["backend", "key", "type"], registry=r)
        self.cost = Counter("switchyard_cost_usd", "Per-token cost in USD by backend and key (the ledger has the "
                            "self-hosted amortised share).", ["backend", "key"], registry=r)
        self.fallbacks = Counter("switchyard_fallbacks", "Attempts made after an earlier backend failed, by the backend "
                                 "fallen back to.", ["route", "backend"], registry=r)
        self.errors = Counter("switchyard_upstream_errors", "Failed attempts by backend and failure kind.",
                              ["backend", "kind"], registry=r)
        self.thinking_detected = Counter(
            "switchyard_thinking_detected", "Requests whose thinking need the detector decided (model alias with "
            "thinking: auto, no explicit signal), by the outcome: on or off.", ["thinking"], registry=r)
        self._detected = {True: self.thinking_detected.labels("on"), False: self.thinking_detected.labels("off")}
        self.overhead = Histogram("switchyard_gateway_overhead_seconds",
                                  "Time the gateway itself spent on a request (total minus upstream time).",
                                  ["route"], buckets=OVERHEAD_BUCKETS_S, registry=r)
        self.present = _PresentCollector()
        r.register(self.present)
        self._outcomes: list[AttemptOutcome] = []
        self._overheads: list[tuple[str, float]] = []
        self._cache: dict[tuple[str, str, str, str], _Children] = {}
        self._overhead_children: dict[str, Any] = {}

    # -- the request path: appends only ------------------------------------------------------

    def on_outcome(self, outcome: AttemptOutcome) -> None:
        """OutcomeHub listener."""
        self._outcomes.append(outcome)
        if len(self._outcomes) >= APPLY_EVERY:
            self.apply()

    def observe_overhead(self, route: str | None, overhead_ms: float) -> None:
        self._overheads.append((route or NO_ROUTE, overhead_ms))
        if len(self._overheads) >= APPLY_EVERY:
            self.apply()

    # -- wiring and scraping -----------------------------------------------------------------

    def watch(self, *, snapshot: Callable[[], StateSnapshot] | None = None,
              budget_remaining: Callable[[], Iterable[tuple[str, float | None]]] | None = None,
              ledger_backlog: Callable[[], tuple[int, int]] | None = None) -> None:
        """Say where the scrape-time gauges come from."""
        if snapshot is not None:
            self.present.snapshot = snapshot
        if budget_remaining is not None:
            self.present.budget_remaining = budget_remaining
        if ledger_backlog is not None:
            self.present.ledger_backlog = ledger_backlog

    def apply(self) -> None:
        """Fold the queued observations into the metrics."""
        outcomes, self._outcomes = self._outcomes, []
        for outcome in outcomes:
            self._apply_outcome(outcome)
        overheads, self._overheads = self._overheads, []
        children = self._overhead_children
        for route, overhead_ms in overheads:
            child = children.get(route)
            if child is None:
                child = children[route] = self.overhead.labels(route)
            child.observe(overhead_ms / 1000)

    def _children(self, route: str, backend: str, status: str, key: str) -> _Children:
        """The label children of one (route, backend, status, key), looked up once and kept."""
        children = self._cache.get((route, backend, status, key))
        if children is None:
            children = self._cache[(route, backend, status, key)] = _Children(
                requests=self.requests.labels(route, backend, status),
                duration=self.duration.labels(route, backend, status),
                ttft=self.ttft.labels(route, backend),
                tpot=self.tpot.labels(route, backend),
                fallbacks=self.fallbacks.labels(route, backend),
                tokens=tuple(self.tokens.labels(backend, key, kind) for kind in TOKEN_TYPES),
                cost=self.cost.labels(backend, key),
            )
        return children

    def _apply_outcome(self, o: AttemptOutcome) -> None:
        c = self._children(o.route or NO_ROUTE, o.backend, str(o.status), o.key_name or NO_KEY)
        c.requests.inc()
        c.duration.observe(o.latency_ms / 1000)
        if o.attempt == 1 and o.thinking_source == "detected":  # once per request, at its first attempt
            self._detected[bool(o.thinking)].inc()
        if o.attempt > 1:
            c.fallbacks.inc()
        if not o.ok:
            self.errors.labels(o.backend, o.error_kind or "unknown").inc()
        elif o.ttft_ms is not None:
            c.ttft.observe(o.ttft_ms / 1000)
            if o.output_tokens > 1:
                c.tpot.observe((o.latency_ms - o.ttft_ms) / 1000 / (o.output_tokens - 1))
        usage = o.usage
        if usage is not None:
            for child, count in zip(c.tokens, (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens,
                                               usage.reasoning_tokens), strict=True):
                if count:
                    child.inc(count)
        if o.cost_usd:
            c.cost.inc(o.cost_usd)

    def render(self) -> tuple[bytes, str]:
        """The `/metrics` body and its content type."""
        self.apply()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
