"""The in-memory state store turns attempt outcomes into the policy engine's snapshot."""

from __future__ import annotations

from backends.usage import Usage
from gateway.outcomes import AttemptOutcome
from gateway.state.memory import MemoryStateStore
from policies.state import BackendState


def _outcome(backend: str = "a", ok: bool = True, ttft_ms: float | None = 100.0, latency_ms: float = 1100.0,
             kind: str | None = None, completion: int = 11) -> AttemptOutcome:
    return AttemptOutcome(
        request_id="r", attempt=1, backend=backend, route="default", upstream_model="m", streamed=True, ok=ok,
        status=200 if ok else 500, error_kind=kind, latency_ms=latency_ms, ttft_ms=ttft_ms,
        usage=Usage(prompt_tokens=100, cached_tokens=25, completion_tokens=completion) if ok else None,
        cost_usd=None, started_at=0.0,
    )


def test_in_flight_counts_open_attempts():
    store = MemoryStateStore()
    store.attempt_started("a")
    store.attempt_started("a")
    assert store.snapshot()["a"].in_flight == 2
    store.record(_outcome())
    assert store.snapshot()["a"].in_flight == 1


def test_latency_percentiles_rates_and_token_averages():
    store = MemoryStateStore()
    for ttft in range(10, 210, 10):  # 20 observations: 10..200 ms
        store.attempt_started("a")
        store.record(_outcome(ttft_ms=float(ttft), latency_ms=ttft + 1000.0))
    state = store.snapshot()["a"]
    assert (state.ttft_p50_ms, state.ttft_p95_ms) == (110.0, 200.0)
    assert state.tpot_p50_ms == 100.0  # 1000 ms over 10 further tokens
    assert state.error_rate == 0.0 and state.avg_output_tokens == 11 and state.cache_hit_ratio == 0.25


def test_consecutive_failures_reset_on_success_and_client_mistakes_do_not_count():
    store = MemoryStateStore()
    for outcome in (_outcome(ok=False, kind="server_error"), _outcome(ok=False, kind="timeout")):
        store.attempt_started("a")
        store.record(outcome)
    store.attempt_started("a")
    store.record(_outcome(ok=False, kind="client_error"))
    assert store.consecutive_failures("a") == 2
    store.attempt_started("a")
    store.record(_outcome())
    assert store.consecutive_failures("a") == 0


def test_external_figures_are_merged_into_the_snapshot():
    store = MemoryStateStore()
    store.set_external("a", BackendState(waiting=7, kv_usage=0.5))
    state = store.snapshot()["a"]
    assert (state.waiting, state.kv_usage, state.in_flight) == (7, 0.5, 0)


def test_requests_opened_since_the_scrape_count_as_queued_until_the_next_scrape():
    store = MemoryStateStore()
    store.attempt_started("a")  # in flight before the scrape: already in the engine's figures
    store.set_external("a", BackendState(waiting=7))
    for _ in range(3):
        store.attempt_started("a")
    assert (store.snapshot()["a"].waiting, store.snapshot()["a"].in_flight) == (10, 4)
    store.record(_outcome())
    assert store.snapshot()["a"].waiting == 9
    store.set_external("a", BackendState(waiting=2))  # a fresh scrape is the new baseline
    assert store.snapshot()["a"].waiting == 2


def test_observations_older_than_the_window_age_are_forgotten():
    clock = [0.0]
    store = MemoryStateStore(clock=lambda: clock[0])
    store.attempt_started("a")
    store.record(_outcome(ttft_ms=300.0))
    assert store.snapshot()["a"].ttft_p95_ms == 300.0
    clock[0] += 61.0  # WINDOW_AGE_S later, with no new traffic
    state = store.snapshot()["a"]
    assert (state.ttft_p95_ms, state.error_rate, state.avg_output_tokens) == (None, None, None)
