"""Simulated upstreams: a self-hosted replica timed by the planner, or a managed API with fixed latency.

- `vllm` / `sglang` backends with a `deployment:` run `planner.simulate.replica.ReplicaSim`
  (continuous batching, KV capacity, queueing); its queue, running count and KV usage are what the
  gateway's scrape of /metrics reads.
- Managed backends answer after `simulate.ttft_ms` + (output - 1) x `simulate.tpot_ms` (defaults per
  provider type: planner.simulate.managed), whatever the load; `limits.max_in_flight` still caps
  them through the engine's saturation filter, as when serving.
- `type: emulator` backends are timed as `gateway emulate` times them: their `emulator:` TTFT and
  TPOT (defaults 20 and 5 ms), a self-hosted profile with at most `max_concurrency` running and the
  rest queued, its /metrics showing that queue and running / max_concurrency as KV usage (so
  `gateway simulate --config policies/demo.yaml` replays what the demo does).
- `--fail BACKEND:RATE[:KIND]` fails that share of attempts (seeded) with `server_error` (HTTP 500,
  answered after FAILED_ATTEMPT_S), `rate_limited` (429, as fast) or `timeout` (after the backend's
  `timeouts.first_token_s`), so fallback and the circuit breaker show.
An attempt times out like a real one: a stream whose first token is later than
`timeouts.first_token_s`, or an answer not complete within `timeouts.total_s`, fails as `timeout`
and leaves the replica's queue or batch.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from planner.simulate.events import EventLoop
from planner.simulate.managed import ManagedLatency, default_latency
from planner.simulate.replica import ReplicaLoad, ReplicaRequest, ReplicaSim
from planner.simulate.step_model import ReplicaTiming
from policies.schema import BackendSpec

__all__ = ["SimAttempt", "AttemptSink", "FailureSpec", "SelfHostedBackend", "ManagedBackend", "EmulatedBackend",
           "FAILED_ATTEMPT_S", "FAILURE_KINDS", "managed_latency", "EMULATOR_DEFAULT_TTFT_MS", "EMULATOR_DEFAULT_TPOT_MS"]

FAILED_ATTEMPT_S = 0.05
"""How long an injected 500 or 429 takes to come back: a fast error, before any token."""
FAILURE_KINDS: dict[str, int] = {"server_error": 500, "rate_limited": 429, "timeout": 504}
EMULATOR_DEFAULT_TTFT_MS, EMULATOR_DEFAULT_TPOT_MS = 20.0, 5.0  # backends/emulator/app.py EmulatorConfig defaults


@dataclass(frozen=True, slots=True)
class FailureSpec:
    """`--fail BACKEND:RATE[:KIND]`: the share of attempts that fail, and how."""

    rate: float
    kind: str = "server_error"


class SimAttempt:
    """One attempt of one request on one backend."""

    __slots__ = ("request", "backend", "number", "started_s", "first_token_s", "ended", "input_tokens",
                 "cached_tokens", "output_tokens", "stream", "replica_request")

    def __init__(self, request: object, backend: str, number: int, started_s: float, input_tokens: int,
                 cached_tokens: int, output_tokens: int, stream: bool) -> None:
        self.request = request
        self.backend = backend
        self.number = number
        self.started_s = started_s
        self.first_token_s: float | None = None
        self.ended = False
        self.input_tokens = input_tokens
        self.cached_tokens = cached_tokens
        self.output_tokens = output_tokens
        self.stream = stream
        self.replica_request: ReplicaRequest | None = None


class AttemptSink(Protocol):
    """Where a backend reports the end of an attempt (the simulated dispatcher)."""

    def attempt_ended(self, attempt: SimAttempt, at_s: float, ok: bool, error_kind: str | None, status: int) -> None: ...


def _emulator_latency(spec: BackendSpec) -> ManagedLatency:
    timing = spec.emulator
    ttft_ms = timing.ttft_ms if timing and timing.ttft_ms is not None else EMULATOR_DEFAULT_TTFT_MS
    tpot_ms = timing.tpot_ms if timing and timing.tpot_ms is not None else EMULATOR_DEFAULT_TPOT_MS
    return ManagedLatency(ttft_ms / 1000, tpot_ms / 1000, "policy emulator:")


def managed_latency(spec: BackendSpec) -> ManagedLatency:
    """The backend's `simulate:` figures, each falling back to an emulator's own timing or its provider type's default."""
    default = _emulator_latency(spec) if spec.type == "emulator" else default_latency(spec.provider_type)
    given = spec.simulate
    if given is None or (given.ttft_ms is None and given.tpot_ms is None):
        return default
    ttft_s = default.ttft_s if given.ttft_ms is None else given.ttft_ms / 1000
    tpot_s = default.tpot_s if given.tpot_ms is None else given.tpot_ms / 1000
    return ManagedLatency(ttft_s, tpot_s, "policy simulate:")


class _Backend:
    """What both kinds share: the event loop, the sink, timeouts and injected failures."""

    self_hosted = False

    def __init__(self, name: str, spec: BackendSpec, loop: EventLoop, sink: AttemptSink, failure: FailureSpec | None,
                 rng: random.Random) -> None:
        self.name = name
        self.spec = spec
        self.loop = loop
        self.sink = sink
        self.failure = failure
        self.rng = rng
        self.first_token_limit_s = spec.timeouts.first_token_s
        self.total_limit_s = spec.timeouts.total_s

    def _injected_failure(self, attempt: SimAttempt) -> bool:
        failure = self.failure
        if failure is None or self.rng.random() >= failure.rate:
            return False
        delay = self.first_token_limit_s if failure.kind == "timeout" else FAILED_ATTEMPT_S
        self.loop.schedule(attempt.started_s + delay, self._fail_injected, attempt)
        return True

    def _fail_injected(self, attempt: SimAttempt) -> None:
        kind = self.failure.kind if self.failure else "server_error"
        self._end(attempt, False, kind, FAILURE_KINDS[kind])

    def _end(self, attempt: SimAttempt, ok: bool, kind: str | None, status: int) -> None:
        if not attempt.ended:
            attempt.ended = True
            self.sink.attempt_ended(attempt, self.loop.now, ok, kind, status)


class SelfHostedBackend(_Backend):
    """A vLLM/SGLang backend: one replica of its deployment, timed by the planner."""

    self_hosted = True

    def __init__(self, name: str, spec: BackendSpec, timing: ReplicaTiming, loop: EventLoop, sink: AttemptSink,
                 failure: FailureSpec | None, rng: random.Random) -> None:
        super().__init__(name, spec, loop, sink, failure, rng)
        self.timing = timing
        self.replica = ReplicaSim(timing, self, loop.schedule)

    def load(self, now_s: float) -> ReplicaLoad:
        return self.replica.load(now_s)

    def start(self, attempt: SimAttempt) -> None:
        if self._injected_failure(attempt):
            return
        request = ReplicaRequest(attempt.input_tokens, attempt.output_tokens, attempt.cached_tokens, tag=attempt)
        attempt.replica_request = request
        self.replica.submit(request, attempt.started_s)
        limit = self.first_token_limit_s if attempt.stream else self.total_limit_s
        self.loop.schedule(attempt.started_s + limit, self._deadline, attempt)

    def _deadline(self, attempt: SimAttempt) -> None:
        if attempt.ended or (attempt.stream and attempt.first_token_s is not None):
            return
        if attempt.replica_request is not None:
            self.replica.cancel(attempt.replica_request, self.loop.now)
        self._end(attempt, False, "timeout", FAILURE_KINDS["timeout"])

    # ReplicaListener
    def first_token(self, request: ReplicaRequest, at_s: float) -> None:
        request.tag.first_token_s = at_s  # type: ignore[union-attr]

    def finished(self, request: ReplicaRequest, at_s: float) -> None:
        self._end(request.tag, True, None, 200)  # type: ignore[arg-type]

    def rejected(self, request: ReplicaRequest, at_s: float, reason: str) -> None:
        self._end(request.tag, False, "client_error", 400)  # type: ignore[arg-type]


class ManagedBackend(_Backend):
    """A managed API: fixed time to first token and per token (`simulate:` or the type's default)."""

    def __init__(self, name: str, spec: BackendSpec, loop: EventLoop, sink: AttemptSink, failure: FailureSpec | None,
                 rng: random.Random) -> None:
        super().__init__(name, spec, loop, sink, failure, rng)
        self.latency = managed_latency(spec)

    def start(self, attempt: SimAttempt) -> None:
        if self._injected_failure(attempt):
            return
        ttft_s, total_s = self.latency.durations_s(attempt.output_tokens)
        if attempt.stream and ttft_s > self.first_token_limit_s:
            self.loop.schedule(attempt.started_s + self.first_token_limit_s, self._timed_out, attempt)
        elif total_s > self.total_limit_s:
            self.loop.schedule(attempt.started_s + self.total_limit_s, self._timed_out, attempt)
        else:
            attempt.first_token_s = attempt.started_s + ttft_s
            self.loop.schedule(attempt.started_s + total_s, self._done, attempt)

    def _done(self, attempt: SimAttempt) -> None:
        self._end(attempt, True, None, 200)

    def _timed_out(self, attempt: SimAttempt) -> None:
        self._end(attempt, False, "timeout", FAILURE_KINDS["timeout"])


class EmulatedBackend(_Backend):
    """A self-hosted `type: emulator` backend: fixed TTFT/TPOT, at most `max_concurrency` running, FIFO queue."""

    self_hosted = True

    def __init__(self, name: str, spec: BackendSpec, loop: EventLoop, sink: AttemptSink, failure: FailureSpec | None,
                 rng: random.Random) -> None:
        super().__init__(name, spec, loop, sink, failure, rng)
        self.latency = _emulator_latency(spec)
        self.slots = spec.emulator.max_concurrency if spec.emulator and spec.emulator.max_concurrency else None
        self.running = 0
        self.queue: deque[SimAttempt] = deque()

    def load(self, now_s: float) -> ReplicaLoad:
        capacity = self.slots or 256  # as backends/emulator/load.py reports KV usage
        return ReplicaLoad(len(self.queue), self.running, min(1.0, self.running / capacity))

    def start(self, attempt: SimAttempt) -> None:
        if self._injected_failure(attempt):
            return
        if self.slots is not None and self.running >= self.slots:
            self.queue.append(attempt)
        else:
            self._run(attempt)
        limit = self.first_token_limit_s if attempt.stream else self.total_limit_s
        self.loop.schedule(attempt.started_s + limit, self._deadline, attempt)

    def _run(self, attempt: SimAttempt) -> None:
        self.running += 1
        ttft_s, total_s = self.latency.durations_s(attempt.output_tokens)
        now = self.loop.now
        attempt.first_token_s = now + ttft_s
        self.loop.schedule(now + total_s, self._done, attempt)

    def _free_slot(self) -> None:
        self.running -= 1
        while self.queue:
            waiting = self.queue.popleft()
            if not waiting.ended:
                self._run(waiting)
                return

    def _done(self, attempt: SimAttempt) -> None:
        if attempt.ended:  # timed out while running; its slot was freed then
            return
        self._free_slot()
        self._end(attempt, True, None, 200)

    def _deadline(self, attempt: SimAttempt) -> None:
        if attempt.ended or (attempt.stream and attempt.first_token_s is not None and attempt.first_token_s <= self.loop.now):
            return
        if attempt.first_token_s is not None:  # running: give its slot back
            self._free_slot()
        else:
            try:
                self.queue.remove(attempt)
            except ValueError:
                pass
        self._end(attempt, False, "timeout", FAILURE_KINDS["timeout"])
