"""Replay a trace through one policy in simulated time: decide, dispatch with fallback, account.

Event-driven (planner.simulate.events.EventLoop): arrivals (one scheduled at a time), attempt
completions, deadlines and /metrics scrapes are events; self-hosted replicas schedule their own
step boundaries. `decide` runs once per request, on the live-state snapshot at its arrival.
Dispatch follows gateway/dispatch.py: the chain is tried in order, a backend whose circuit refuses
the attempt (`admit`) is skipped unless the decision is in panic mode, and a failed attempt moves
on only when its kind is in `fallback.on`. Every attempt's outcome is fed back to the live state.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

from backends.usage import Usage
from gateway.outcomes import AttemptOutcome
from gateway.simulate.backends import EmulatedBackend, FailureSpec, ManagedBackend, SelfHostedBackend, SimAttempt
from gateway.simulate.report import BackendReport, CostSplit, PolicyReport, TimelinePoint
from gateway.simulate.serving import ServingLogic
from planner.errors import PlannerInputError
from planner.simulate.events import EventLoop
from planner.simulate.stats import percentiles_ms
from planner.simulate.step_model import ReplicaTiming, replica_timing
from planner.simulate.deployment_spec import DeploymentSpec
from planner.trace.record import Trace
from policies.errors import RoutingError
from policies.pricing import resolve_price
from policies.schema import Policy

__all__ = ["SimulationOptions", "simulate_policy", "SimulationInputError", "TIMELINE_SLICES"]

SECONDS_PER_HOUR = 3600.0
TIMELINE_SLICES = 60
_TIMINGS: dict[DeploymentSpec, ReplicaTiming] = {}


class SimulationInputError(PlannerInputError):
    """A policy the simulator cannot run (a self-hosted backend without a deployment, one that does not fit)."""


class SimulationOptions:
    """How to replay: scrape interval, seed, default model, injected failures, SLO overrides, span."""

    def __init__(self, *, scrape_interval_s: float = 2.0, seed: int = 0, model: str | None = None,
                 failures: Mapping[str, FailureSpec] | None = None, slo_ttft_ms: float | None = None,
                 slo_tpot_ms: float | None = None, span_s: float | None = None) -> None:
        self.scrape_interval_s = scrape_interval_s
        self.seed = seed
        self.model = model
        self.failures = dict(failures or {})
        self.slo_ttft_ms = slo_ttft_ms
        self.slo_tpot_ms = slo_tpot_ms
        self.span_s = span_s


def _timing(name: str, deployment: DeploymentSpec) -> ReplicaTiming:
    timing = _TIMINGS.get(deployment)
    if timing is None:
        try:
            timing = _TIMINGS[deployment] = replica_timing(deployment)
        except PlannerInputError as exc:
            raise SimulationInputError(f"backend {name}: {exc}") from None
    return timing


class _Tally:
    __slots__ = ("requests", "input_tokens", "output_tokens", "cached_tokens", "token_cost_usd", "attempts", "failed")

    def __init__(self) -> None:
        self.requests = self.input_tokens = self.output_tokens = self.cached_tokens = 0
        self.token_cost_usd = 0.0
        self.attempts = self.failed = 0


class _Request:
    __slots__ = ("index", "record", "rid", "decision", "chain", "position", "arrival_s", "tried", "input_chars",
                 "attempt_number", "slo")

    def __init__(self, index: int, record, rid: str, arrival_s: float) -> None:
        self.index = index
        self.record = record
        self.rid = rid
        self.arrival_s = arrival_s
        self.decision = None
        self.chain: list[str] = []
        self.position = 0
        self.tried: tuple[str, ...] = ()
        self.input_chars = 0
        self.attempt_number = 0
        self.slo: tuple[float | None, float | None] = (None, None)


class _Run:
    """One policy over one trace; `report()` after `loop.run()`."""

    def __init__(self, policy: Policy, config: str, trace: Trace, options: SimulationOptions) -> None:
        self.policy, self.config, self.trace, self.options = policy, config, trace, options
        self.loop = EventLoop()
        loop = self.loop
        self.serving = ServingLogic(policy, lambda: loop.now, seed=options.seed, default_model=options.model)
        rng = random.Random(options.seed + 1)
        unknown = sorted(set(options.failures) - set(policy.backends))
        if unknown:
            raise SimulationInputError(f"--fail names {', '.join(unknown)}, not a backend of {config} "
                                       f"(backends: {', '.join(policy.backends)})")
        self.backends: dict[str, SelfHostedBackend | ManagedBackend | EmulatedBackend] = {}
        self.gpu_usd_per_s: dict[str, float] = {}
        for name, spec in policy.backends.items():
            failure = options.failures.get(name)
            if spec.self_hosted and spec.type == "emulator" and spec.deployment is None:
                self.backends[name] = EmulatedBackend(name, spec, loop, self, failure, rng)
                if spec.cost is not None and spec.cost.gpu_hourly_usd is not None:
                    self.gpu_usd_per_s[name] = spec.cost.gpu_hourly_usd * (spec.cost.gpus or 1) / SECONDS_PER_HOUR
            elif spec.self_hosted:
                if spec.deployment is None:
                    raise SimulationInputError(
                        f"{config}: backend {name} ({spec.provider_type}) has no deployment; add "
                        f"deployment: {{model, gpu, gpus}} (planner catalog names) so it can be simulated")
                timing = _timing(name, spec.deployment)
                self.backends[name] = SelfHostedBackend(name, spec, timing, loop, self, failure, rng)
                gpus = (spec.cost.gpus if spec.cost and spec.cost.gpus else None) or spec.deployment.gpus
                hourly = spec.cost.gpu_hourly_usd if spec.cost and spec.cost.gpu_hourly_usd is not None else timing.gpu_hourly_usd
                self.gpu_usd_per_s[name] = hourly * gpus / SECONDS_PER_HOUR
            else:
                self.backends[name] = ManagedBackend(name, spec, loop, self, failure, rng)
        self.prices = {name: resolve_price(spec) for name, spec in policy.backends.items()}
        self.upstream_models = {name: spec.model for name, spec in policy.backends.items()}
        self.tallies = {name: _Tally() for name in policy.backends}
        self.self_hosted = {name for name, b in self.backends.items() if b.self_hosted}
        self.route_slo = {
            route.name: (
                (options.slo_ttft_ms if options.slo_ttft_ms is not None else (route.slo.ttft_p95_ms if route.slo else None)),
                (options.slo_tpot_ms if options.slo_tpot_ms is not None else (route.slo.tpot_p95_ms if route.slo else None)),
            )
            for route in policy.routes
        }
        self.ttft_s: list[float] = []
        self.tpot_s: list[float] = []
        self.served_at: list[tuple[float, float, float]] = []  # (arrival, ttft, token cost) of each served request
        self.failures: dict[str, int] = {}
        self.served = self.slo_violations = self.spilled = 0
        self.open_requests = 0
        self.next_index = 0

    # --- events ------------------------------------------------------------------------------------

    def start(self) -> None:
        records = self.trace.records
        if records:
            self.loop.schedule(records[0].t, self._arrive, 0)
        if self.self_hosted:
            self.loop.schedule(0.0, self._scrape, None)

    def _scrape(self, _: object) -> None:
        now = self.loop.now
        for name in self.self_hosted:
            load = self.backends[name].load(now)  # type: ignore[union-attr]
            self.serving.scraped(name, load.waiting, load.running, load.kv_usage)
        if self.open_requests or self.next_index < len(self.trace.records):
            self.loop.schedule(now + self.options.scrape_interval_s, self._scrape, None)

    def _arrive(self, index: int) -> None:
        records = self.trace.records
        record = records[index]
        self.next_index = index + 1
        if index + 1 < len(records):
            self.loop.schedule(records[index + 1].t, self._arrive, index + 1)
        request = _Request(index, record, f"sim-{index}", self.loop.now)
        serving = self.serving
        features = serving.features(record)
        request.input_chars = features.input_chars
        try:
            decision = serving.decide(features)
        except RoutingError as exc:
            self._fail(request, type(exc).__name__, counted_open=False)
            return
        request.decision = decision
        request.chain = decision.chain[: serving.max_attempts]
        request.slo = self.route_slo.get(decision.route or "", (None, None))
        self.open_requests += 1
        self._next_attempt(request, None)

    def _next_attempt(self, request: _Request, last_kind: str | None) -> None:
        serving = self.serving
        chain, decision = request.chain, request.decision
        while request.position < len(chain):
            name = chain[request.position]
            request.position += 1
            if not serving.admit(name, request.rid) and not decision.panic:
                continue
            serving.attempt_started(name)
            request.tried += (name,)
            request.attempt_number += 1
            record = request.record
            attempt = SimAttempt(request, name, request.attempt_number, self.loop.now, record.prompt_tokens,
                                 record.cached_tokens, max(1, record.output_tokens), record.stream)
            self.tallies[name].attempts += 1
            self.backends[name].start(attempt)
            return
        self._fail(request, last_kind or "no_backend_available", counted_open=True)

    def _fail(self, request: _Request, reason: str, *, counted_open: bool) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1
        if counted_open:
            self.open_requests -= 1

    # AttemptSink
    def attempt_ended(self, attempt: SimAttempt, at_s: float, ok: bool, error_kind: str | None, status: int) -> None:
        request: _Request = attempt.request  # type: ignore[assignment]
        name = attempt.backend
        tally = self.tallies[name]
        usage = cost = None
        if ok:
            usage = Usage(prompt_tokens=attempt.input_tokens, cached_tokens=attempt.cached_tokens,
                          completion_tokens=attempt.output_tokens)
            price = self.prices[name]
            cost = price.cost_usd(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) if price else None
        ttft_ms = None
        if ok and attempt.stream and attempt.first_token_s is not None:
            ttft_ms = (attempt.first_token_s - attempt.started_s) * 1000
        self.serving.attempt_ended(AttemptOutcome(
            request_id=request.rid, attempt=attempt.number, backend=name, route=request.decision.route,
            upstream_model=self.upstream_models[name], streamed=attempt.stream, ok=ok, status=status, error_kind=error_kind,
            latency_ms=(at_s - attempt.started_s) * 1000, ttft_ms=ttft_ms, usage=usage, cost_usd=cost,
            started_at=attempt.started_s, key_name=request.record.key, input_chars=request.input_chars,
            tried=request.tried,
        ))
        if not ok:
            tally.failed += 1
            if error_kind in self.serving.fallback_on:
                self._next_attempt(request, error_kind)
            else:
                self._fail(request, error_kind or "error", counted_open=True)
            return
        self.open_requests -= 1
        tally.requests += 1
        tally.input_tokens += attempt.input_tokens
        tally.output_tokens += attempt.output_tokens
        tally.cached_tokens += attempt.cached_tokens
        tally.token_cost_usd += cost or 0.0
        self.served += 1
        first = attempt.first_token_s if attempt.first_token_s is not None else at_s
        ttft = first - request.arrival_s
        self.ttft_s.append(ttft)
        tpot = None
        if attempt.output_tokens > 1:
            tpot = (at_s - first) / (attempt.output_tokens - 1)
            self.tpot_s.append(tpot)
        managed = name not in self.self_hosted
        if managed:
            self.spilled += 1
        self.served_at.append((request.arrival_s, ttft, cost or 0.0))
        ttft_slo, tpot_slo = request.slo
        if (ttft_slo is not None and ttft * 1000 > ttft_slo) or (tpot_slo is not None and tpot is not None and tpot * 1000 > tpot_slo):
            self.slo_violations += 1

    # --- the report ----------------------------------------------------------------------------------

    def report(self, simulated_in_s: float, cpu_s: float) -> PolicyReport:
        span_s = self.options.span_s if self.options.span_s is not None else self.trace.span_s
        backends: dict[str, BackendReport] = {}
        self_hosted_usd = managed_usd = 0.0
        for name, tally in self.tallies.items():
            hosted = name in self.self_hosted
            cost = tally.token_cost_usd + (self.gpu_usd_per_s.get(name, 0.0) * span_s if hosted else 0.0)
            if hosted:
                self_hosted_usd += cost
            else:
                managed_usd += cost
            backends[name] = BackendReport(
                requests=tally.requests, input_tokens=tally.input_tokens, output_tokens=tally.output_tokens,
                cached_tokens=tally.cached_tokens, cost_usd=round(cost, 6), self_hosted=hosted,
                attempts=tally.attempts, failed_attempts=tally.failed,
            )
        requests = len(self.trace.records)
        return PolicyReport(
            config=self.config, requests=requests, served=self.served, failed=requests - self.served,
            spill_share=round(self.spilled / self.served, 6) if self.served else 0.0,
            cost_usd=CostSplit(total=round(self_hosted_usd + managed_usd, 6), self_hosted=round(self_hosted_usd, 6),
                               managed=round(managed_usd, 6)),
            ttft_ms=percentiles_ms(self.ttft_s), tpot_ms=percentiles_ms(self.tpot_s),
            slo_violations=self.slo_violations, backends=backends, failures=dict(sorted(self.failures.items())),
            span_s=round(span_s, 3), simulated_in_s=round(simulated_in_s, 3), simulated_cpu_s=round(cpu_s, 3),
            timeline=self._timeline(span_s),
        )

    def _timeline(self, span_s: float) -> list[TimelinePoint]:
        if span_s <= 0 or not self.served_at:
            return []
        width = span_s / TIMELINE_SLICES
        gpu_usd_per_s = sum(self.gpu_usd_per_s.values())
        slices: list[list[float]] = [[] for _ in range(TIMELINE_SLICES)]
        spend = [0.0] * TIMELINE_SLICES
        for arrival, ttft, managed_cost in self.served_at:
            index = min(TIMELINE_SLICES - 1, int(arrival / width))
            slices[index].append(ttft)
            spend[index] += managed_cost
        points, cumulative = [], 0.0
        for index in range(TIMELINE_SLICES):
            cumulative += spend[index]
            end = width * (index + 1)
            points.append(TimelinePoint(
                t_s=round(end, 3), cost_usd=round(cumulative + gpu_usd_per_s * end, 6),
                ttft_p95_ms=percentiles_ms(slices[index]).p95, requests=len(slices[index]),
            ))
        return points


def simulate_policy(policy: Policy, config: str, trace: Trace, options: SimulationOptions | None = None) -> PolicyReport:
    """Replay `trace` through `policy` (named `config` in the report)."""
    run = _Run(policy, config, trace, options or SimulationOptions())
    began, cpu = time.perf_counter(), time.process_time()
    run.start()
    run.loop.run()
    return run.report(time.perf_counter() - began, time.process_time() - cpu)
