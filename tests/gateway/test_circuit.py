"""The circuit breaker: opens after N consecutive failures when the window's failure rate agrees, lets
exactly one trial through after the cool-down, closes on its success and re-opens on its failure; and
how the state store exposes it."""

from __future__ import annotations

import random

import pytest

from gateway.live.circuit import CircuitBreaker, CircuitState
from gateway.outcomes import AttemptOutcome
from gateway.state.memory import MemoryStateStore
from policies.schema import CircuitBreakerSpec



def _consecutive(failures: int, **settings: float) -> CircuitBreakerSpec:
    """A breaker whose rate gate agrees with any run of `failures` (a window of just those attempts)."""
    return CircuitBreakerSpec(consecutive_failures=failures, minimum_attempts=failures, window_attempts=failures, **settings)


SPEC = _consecutive(3, cooldown_s=10.0)
CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN

# Each step: (time s, event, request id, expected state after, expected admit result or None).
# Events: "fail", "ok", "gone" (client left: no verdict), "admit" (ask to send an attempt).
SCENARIOS = {
    "stays closed below the threshold": [
        (0, "fail", "a", CLOSED, None), (1, "fail", "b", CLOSED, None), (2, "admit", "c", CLOSED, True),
    ],
    "a success resets the count": [
        (0, "fail", "a", CLOSED, None), (1, "fail", "b", CLOSED, None), (2, "ok", "c", CLOSED, None),
        (3, "fail", "d", CLOSED, None), (4, "fail", "e", CLOSED, None), (5, "admit", "f", CLOSED, True),
    ],
    "opens on the nth consecutive failure and refuses during the cool-down": [
        (0, "fail", "a", CLOSED, None), (1, "fail", "b", CLOSED, None), (2, "fail", "c", OPEN, None),
        (3, "admit", "d", OPEN, False), (11.9, "admit", "e", OPEN, False),
    ],
    "half-open after the cool-down admits exactly one trial": [
        (0, "fail", "a", CLOSED, None), (0, "fail", "b", CLOSED, None), (0, "fail", "c", OPEN, None),
        (10, "admit", "trial", HALF_OPEN, True), (10, "admit", "other", HALF_OPEN, False),
        (11, "admit", "third", HALF_OPEN, False),
    ],
    "the trial's success closes it": [
        (0, "fail", "a", CLOSED, None), (0, "fail", "b", CLOSED, None), (0, "fail", "c", OPEN, None),
        (10, "admit", "trial", HALF_OPEN, True), (10.5, "ok", "trial", CLOSED, None),
        (10.6, "admit", "next", CLOSED, True),
    ],
    "the trial's failure re-opens it for another cool-down": [
        (0, "fail", "a", CLOSED, None), (0, "fail", "b", CLOSED, None), (0, "fail", "c", OPEN, None),
        (10, "admit", "trial", HALF_OPEN, True), (12, "fail", "trial", OPEN, None),
        (21.9, "admit", "early", OPEN, False), (22, "admit", "trial2", HALF_OPEN, True),
    ],
    "a trial without a verdict frees the slot for another": [
        (0, "fail", "a", CLOSED, None), (0, "fail", "b", CLOSED, None), (0, "fail", "c", OPEN, None),
        (10, "admit", "trial", HALF_OPEN, True), (10.2, "gone", "trial", HALF_OPEN, None),
        (10.3, "admit", "trial2", HALF_OPEN, True),
    ],
    "late outcomes of attempts sent before it opened decide nothing": [
        (0, "fail", "a", CLOSED, None), (0, "fail", "b", CLOSED, None), (0, "fail", "c", OPEN, None),
        (1, "ok", "old", OPEN, None), (10, "admit", "trial", HALF_OPEN, True),
        (10.1, "ok", "older", HALF_OPEN, None), (10.2, "fail", "oldest", HALF_OPEN, None),
        (10.3, "gone", "stale", HALF_OPEN, None), (10.4, "admit", "other", HALF_OPEN, False),
    ],
}


@pytest.mark.parametrize("steps", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_circuit_breaker_state_machine(steps):
    breaker = CircuitBreaker(SPEC)
    for now, event, request_id, state, admitted in steps:
        if event == "fail":
            breaker.on_failure(request_id, now)
        elif event == "ok":
            breaker.on_success(request_id)
        elif event == "gone":
            breaker.on_abandoned(request_id)
        else:
            assert breaker.admit(request_id, now) is admitted, (now, event, request_id)
        assert breaker.state(now) is state, (now, event, request_id)


def test_a_disabled_breaker_never_opens_and_disabling_closes_an_open_one():
    breaker = CircuitBreaker(_consecutive(1, enabled=False))
    breaker.on_failure("a", 0)
    assert breaker.state(0) is CLOSED and breaker.admit("b", 0)
    enabled = CircuitBreaker(_consecutive(1))
    enabled.on_failure("a", 0)
    assert enabled.state(0) is OPEN
    enabled.configure(CircuitBreakerSpec(enabled=False))
    assert enabled.state(0) is CLOSED and enabled.admit("b", 0)


RATE = CircuitBreakerSpec(consecutive_failures=2, failure_rate_threshold=0.5, window_attempts=6, minimum_attempts=4)

# (outcomes in the order they finish, F failed and . succeeded, with RATE) -> the attempt (1-based) that opens it, or None
RATE_CASES = {
    "a run of failures below the minimum volume does not open": ("FFF", None),
    "the run and the rate hold together on the minimum volume": ("FFFF", 4),
    "a run long enough but a rate too low does not open": ("....FF", None),
    "both hold once enough failures fill the window": ("....FFF", 7),
    "failures spread out never make a run": ("F.F.F.F.F.F.", None),
    "the rate counts only the last window_attempts": ("FF.F.F......FF", None),
    "a run after a mostly failing window opens at once": ("F.F.FF", 6),
}


@pytest.mark.parametrize(("outcomes", "opens_at"), list(RATE_CASES.values()), ids=list(RATE_CASES))
def test_the_circuit_opens_only_when_the_run_and_the_window_failure_rate_both_hold(outcomes, opens_at):
    breaker = CircuitBreaker(RATE)
    opened = None
    for attempt, outcome in enumerate(outcomes, start=1):
        if outcome == "F":
            breaker.on_failure(f"r{attempt}", attempt)
        else:
            breaker.on_success(f"r{attempt}")
        if opened is None and breaker.state(attempt) is OPEN:
            opened = attempt
    assert opened == opens_at


def test_a_trial_that_succeeds_clears_the_window():
    breaker = CircuitBreaker(RATE)
    for attempt in range(4):
        breaker.on_failure(f"r{attempt}", 0)
    assert breaker.admit("trial", 30)
    breaker.on_success("trial")
    assert (breaker.state(30), len(breaker.window), breaker.failure_rate()) == (CLOSED, 0, None)


@pytest.mark.parametrize(("successes_before", "failures_to_open"), [(0, 15), (5, 10), (200, 15)])
def test_with_the_defaults_a_dead_backend_opens_within_ten_to_fifteen_failed_attempts(successes_before, failures_to_open):
    breaker = CircuitBreaker(CircuitBreakerSpec())
    for attempt in range(successes_before):
        breaker.on_success(f"ok{attempt}")
    failures = 0
    while breaker.state(0) is CLOSED:
        failures += 1
        breaker.on_failure(f"f{failures}", 0)
    assert failures == failures_to_open


def _bursty(seed: int, attempts: int, fail_rate: float, burst: int) -> list[bool]:
    """Outcomes in finishing order when failures come back fast: every `burst` failures of a stretch of
    traffic are reported together, ahead of the stretch's successes (True: failed)."""
    rng = random.Random(seed)
    failed = [rng.random() < fail_rate for _ in range(attempts)]
    stretch = round(burst / fail_rate)  # the traffic that holds `burst` failures on average
    finished: list[bool] = []
    for start in range(0, attempts, stretch):
        part = failed[start:start + stretch]
        finished += sorted(part, reverse=True)  # the stretch's failures first
    return finished


@pytest.mark.parametrize("seed", range(5))
def test_with_the_defaults_a_five_percent_faulty_backend_never_opens_though_failures_finish_in_bursts(seed):
    outcomes = _bursty(seed, attempts=20_000, fail_rate=0.05, burst=4)  # 4: one backend's share of 200 clients
    assert max(len(run) for run in "".join("F" if f else "." for f in outcomes).split(".")) >= 5  # the old breaker would open
    breaker = CircuitBreaker(CircuitBreakerSpec())
    for attempt, failed in enumerate(outcomes):
        if failed:
            breaker.on_failure(f"r{attempt}", 0)
        else:
            breaker.on_success(f"r{attempt}")
        assert breaker.state(0) is CLOSED, attempt


def test_a_window_smaller_than_the_minimum_volume_is_refused():
    with pytest.raises(ValueError, match="minimum_attempts 30 > window_attempts 20"):
        CircuitBreakerSpec(minimum_attempts=30, window_attempts=20)


def test_blocks_for_routing_while_open_or_while_the_trial_is_out():
    breaker = CircuitBreaker(SPEC)
    for request_id in "abc":
        breaker.on_failure(request_id, 0)
    assert [breaker.blocks(t) for t in (0, 9.9, 10)] == [True, True, False]
    breaker.admit("trial", 10)
    assert breaker.blocks(10) and breaker.half_opens_at() is None


def _outcome(request_id: str, ok: bool, kind: str | None = None) -> AttemptOutcome:
    return AttemptOutcome(
        request_id=request_id, attempt=1, backend="a", route="r", upstream_model="m", streamed=False, ok=ok,
        status=200 if ok else 500, error_kind=None if ok else (kind or "server_error"), latency_ms=5.0, ttft_ms=None,
        usage=None, cost_usd=None, started_at=0.0,
    )


def _attempt(store: MemoryStateStore, request_id: str, ok: bool, kind: str | None = None) -> bool:
    if not store.admit("a", request_id):
        return False
    store.attempt_started("a")
    store.record(_outcome(request_id, ok, kind))
    return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_store_opens_the_circuit_in_the_snapshot_at_once_and_reopens_it_after_a_failed_trial():
    clock = FakeClock()
    store = MemoryStateStore(_consecutive(2, cooldown_s=5), clock=clock)
    assert _attempt(store, "r1", ok=False) and not store.snapshot()["a"].circuit_open
    assert _attempt(store, "r2", ok=False)
    assert store.snapshot()["a"].circuit_open and store.circuit_state("a") is OPEN
    assert not _attempt(store, "r3", ok=True)  # refused while open
    clock.now += 4.9
    assert store.snapshot()["a"].circuit_open
    clock.now += 0.1  # the cool-down is over: the snapshot turns half-open without any new outcome
    assert not store.snapshot()["a"].circuit_open and store.circuit_state("a") is HALF_OPEN
    assert store.admit("a", "trial")
    assert store.snapshot()["a"].circuit_open  # the trial is out: routing skips it
    assert not store.admit("a", "second")
    store.attempt_started("a")
    store.record(_outcome("trial", ok=False))
    assert store.circuit_state("a") is OPEN and store.consecutive_failures("a") == 3


def test_store_closes_the_circuit_when_the_trial_succeeds_and_client_mistakes_do_not_count():
    clock = FakeClock()
    store = MemoryStateStore(_consecutive(1, cooldown_s=1), clock=clock)
    assert _attempt(store, "r0", ok=False, kind="client_error")  # the client's fault: no verdict
    assert store.circuit_state("a") is CLOSED
    assert _attempt(store, "r1", ok=False)
    assert store.circuit_state("a") is OPEN
    clock.now += 1
    assert store.admit("a", "trial")
    store.attempt_started("a")
    store.record(_outcome("trial", ok=True))
    assert store.circuit_state("a") is CLOSED and not store.snapshot()["a"].circuit_open
    assert store.consecutive_failures("a") == 0


def test_store_applies_new_circuit_settings_to_every_backend():
    store = MemoryStateStore(_consecutive(1))
    assert _attempt(store, "r1", ok=False)
    assert store.snapshot()["a"].circuit_open
    store.configure_circuits(CircuitBreakerSpec(enabled=False))
    assert not store.snapshot()["a"].circuit_open and store.admit("a", "r2")
