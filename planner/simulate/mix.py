"""A self-hosted/managed mix over a trace: N replicas of one deployment, the rest to one managed API.

The routing rule of `planner plan --trace` (the planner cannot run a policy), the one its emitted
policy's `limits` express: a request goes to the replica with the fewest requests in flight unless
that replica is saturated, with `max_in_flight` requests open (its SLO-sized batch) or `max_waiting`
in its engine's queue (a burst the prefill budget cannot absorb); then it spills to the managed
provider, whose latency is fixed (planner.simulate.managed). Replicas are timed by
planner.simulate.replica; the router sees their queue as it is (a scrape with no delay).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.prices import ManagedPrice, daily_cost_usd
from planner.simulate.events import EventLoop
from planner.simulate.managed import ManagedLatency
from planner.simulate.replica import ReplicaRequest, ReplicaSim
from planner.simulate.step_model import ReplicaTiming
from planner.trace.record import Trace

__all__ = ["MixOutcome", "simulate_mix"]


@dataclass(frozen=True, slots=True)
class MixOutcome:
    """Per-request latencies and where requests went, for one mix over the trace."""

    ttft_s: list[float]
    tpot_s: list[float | None]
    self_hosted_requests: int
    managed_requests: int
    managed_usd: float


class _Fleet:
    def __init__(self, timing: ReplicaTiming | None, replicas: int, max_in_flight: int, max_waiting: int,
                 latency: ManagedLatency, price: ManagedPrice, trace: Trace) -> None:
        self.loop = EventLoop()
        self.replicas = [ReplicaSim(timing, self, self.loop.schedule) for _ in range(replicas)] if timing else []
        self.in_flight = [0] * len(self.replicas)
        self.max_in_flight, self.max_waiting = max_in_flight, max_waiting
        self.latency, self.price, self.trace = latency, price, trace
        n = len(trace.records)
        self.ttft_s: list[float] = [0.0] * n
        self.tpot_s: list[float | None] = [None] * n
        self.local = self.managed = 0
        self.managed_tokens = [0, 0, 0]  # input, cached, output sent to the provider

    def arrive(self, index: int) -> None:
        records = self.trace.records
        if index + 1 < len(records):
            self.loop.schedule(records[index + 1].t, self.arrive, index + 1)
        record = records[index]
        output = max(1, record.output_tokens)
        if self.replicas:
            chosen = min(range(len(self.replicas)), key=self.in_flight.__getitem__)
            replica = self.replicas[chosen]
            if self.in_flight[chosen] < self.max_in_flight and replica.load(self.loop.now).waiting < self.max_waiting:
                self.in_flight[chosen] += 1
                self.local += 1
                request = ReplicaRequest(record.prompt_tokens, output, record.cached_tokens, tag=(index, chosen, record.t))
                replica.submit(request, self.loop.now)
                return
        ttft, total = self.latency.durations_s(output)
        self.ttft_s[index] = ttft
        self.tpot_s[index] = (total - ttft) / (output - 1) if output > 1 else None
        self._spill(record.prompt_tokens, record.cached_tokens, output)

    def _spill(self, input_tokens: int, cached_tokens: int, output_tokens: int) -> None:
        self.managed += 1
        tokens = self.managed_tokens
        tokens[0] += input_tokens
        tokens[1] += cached_tokens
        tokens[2] += output_tokens

    def managed_usd(self) -> float:
        """The provider's bill for what was spilled (linear in tokens: summed once)."""
        prompt, cached, output = self.managed_tokens
        return daily_cost_usd(self.price, prompt, output, cached / prompt if prompt else 0.0)

    # ReplicaListener
    def first_token(self, request: ReplicaRequest, at_s: float) -> None:
        index, _, arrived = request.tag  # type: ignore[misc]
        self.ttft_s[index] = at_s - arrived

    def finished(self, request: ReplicaRequest, at_s: float) -> None:
        index, replica, _ = request.tag  # type: ignore[misc]
        self.in_flight[replica] -= 1
        if request.output_tokens > 1 and request.first_token_s is not None:
            self.tpot_s[index] = (at_s - request.first_token_s) / (request.output_tokens - 1)

    def rejected(self, request: ReplicaRequest, at_s: float, reason: str) -> None:
        index, replica, _ = request.tag  # type: ignore[misc]
        self.in_flight[replica] -= 1
        self.local -= 1
        record = self.trace.records[index]
        output = max(1, record.output_tokens)
        ttft, total = self.latency.durations_s(output)
        self.ttft_s[index] = at_s - record.t + ttft  # refused by the engine, then sent to the provider
        self.tpot_s[index] = (total - ttft) / (output - 1) if output > 1 else None
        self._spill(record.prompt_tokens, record.cached_tokens, output)


def simulate_mix(trace: Trace, timing: ReplicaTiming | None, replicas: int, max_in_flight: int, max_waiting: int,
                 latency: ManagedLatency, price: ManagedPrice) -> MixOutcome:
    """Replay `trace` on `replicas` replicas (0: everything managed) spilling to `price`'s provider."""
    fleet = _Fleet(timing if replicas else None, replicas, max_in_flight, max_waiting, latency, price, trace)
    if trace.records:
        fleet.loop.schedule(trace.records[0].t, fleet.arrive, 0)
    fleet.loop.run()
    return MixOutcome(fleet.ttft_s, fleet.tpot_s, fleet.local, fleet.managed, fleet.managed_usd())
