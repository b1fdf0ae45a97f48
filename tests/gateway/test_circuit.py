"""The circuit breaker: opens after N consecutive failures, lets exactly one trial through after the
cool-down, closes on its success and re-opens on its failure; and how the state store exposes it."""

from __future__ import annotations

import pytest

from gateway.live.circuit import CircuitBreaker, CircuitState
from gateway.outcomes import AttemptOutcome
from gateway.state.memory import MemoryStateStore
from policies.schema import CircuitBreakerSpec

SPEC = CircuitBreakerSpec(consecutive_failures=3, cooldown_s=10.0)
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
    breaker = CircuitBreaker(CircuitBreakerSpec(enabled=False, consecutive_failures=1))
    breaker.on_failure("a", 0)
    assert breaker.state(0) is CLOSED and breaker.admit("b", 0)
    enabled = CircuitBreaker(CircuitBreakerSpec(consecutive_failures=1))
    enabled.on_failure("a", 0)
    assert enabled.state(0) is OPEN
    enabled.configure(CircuitBreakerSpec(enabled=False))
    assert enabled.state(0) is CLOSED and enabled.admit("b", 0)


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
    store = MemoryStateStore(CircuitBreakerSpec(consecutive_failures=2, cooldown_s=5), clock=clock)
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
    store = MemoryStateStore(CircuitBreakerSpec(consecutive_failures=1, cooldown_s=1), clock=clock)
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
    store = MemoryStateStore(CircuitBreakerSpec(consecutive_failures=1))
    assert _attempt(store, "r1", ok=False)
    assert store.snapshot()["a"].circuit_open
    store.configure_circuits(CircuitBreakerSpec(enabled=False))
    assert not store.snapshot()["a"].circuit_open and store.admit("a", "r2")
