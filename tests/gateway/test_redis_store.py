"""The Redis state store: replicas share in-flight counts, latency windows and circuits, and keep
serving on local state while Redis is away."""

from __future__ import annotations

import asyncio
import logging

import pytest
from accounting_fixtures import (  # noqa: F401 - prefix is a fixture
    FakeClock,
    RedisServer,
    accounting_policy,
    closed_port,
    make_outcome,
    prefix,
)

from gateway.redis_connection import connect_redis
from gateway.runtime import GatewayRuntime
from gateway.state.redis_store import RedisStateStore
from policies.schema import CircuitBreakerSpec

pytestmark = pytest.mark.redis
POLL_TIMEOUT_S = 10.0  # a backstop: conditions are polled
BREAKER = CircuitBreakerSpec(consecutive_failures=3, minimum_attempts=3, window_attempts=6, cooldown_s=30.0)



def _fail(store: RedisStateStore, backend: str = "novita", times: int = 1) -> None:
    for _ in range(times):
        store.attempt_started(backend)
        store.record(make_outcome(backend=backend, ok=False))


def _succeed(store: RedisStateStore, backend: str = "novita", ttft_ms: float = 100.0) -> None:
    store.attempt_started(backend)
    store.record(make_outcome(backend=backend, ttft_ms=ttft_ms, latency_ms=ttft_ms + 990.0, completion=100))


@pytest.fixture
async def replicas(request, redis_url, prefix):
    """Two replicas on one clock; the breaker is BREAKER unless the test is parametrized with another."""
    clock = FakeClock()
    breaker = getattr(request, "param", BREAKER)
    clients = [connect_redis(redis_url) for _ in range(2)]
    stores = [RedisStateStore(c, prefix, circuit=breaker, replica_id=f"r{i}", clock=clock, stats_interval_s=0.0)
              for i, c in enumerate(clients)]
    yield stores[0], stores[1], clock
    for store, client in zip(stores, clients):
        await store.close()
        await client.aclose()


async def test_circuit_opened_by_one_replica_is_open_on_the_other_until_it_expires(replicas):
    first, second, clock = replicas
    _fail(first, times=3)
    assert first.snapshot()["novita"].circuit_open  # locally at once
    await first.sync()
    await second.sync()
    assert second.snapshot()["novita"].circuit_open
    clock.now_s += 31.0
    await second.sync()
    assert not second.snapshot()["novita"].circuit_open  # expired: traffic may try again
    _fail(second)  # one more failure re-opens it for everyone, though this replica saw only one
    await second.sync()
    assert second.snapshot()["novita"].circuit_open
    assert not second.admit("novita", "req_next")
    assert second.circuit_state("novita").value == "open"


async def test_a_success_resets_the_shared_failure_count(replicas):
    first, second, _ = replicas
    _fail(first, times=2)
    await first.sync()
    _succeed(second)
    await second.sync()
    _fail(first, times=2)
    await first.sync()
    await second.sync()
    assert not second.snapshot()["novita"].circuit_open


async def test_a_success_while_the_shared_circuit_is_open_does_not_close_it(replicas):
    first, second, clock = replicas
    _fail(first, times=3)
    await first.sync()
    await second.sync()
    assert not second.admit("novita", "req_panic")
    _succeed(second)  # sent anyway (panic mode: the route's only backend), or admitted before the circuit opened
    await second.sync()
    await first.sync()
    assert second.circuit_state("novita").value == "open" and first.snapshot()["novita"].circuit_open
    clock.now_s += 31.0
    _succeed(second)  # after the cool-down a success is the recovery
    await second.sync()
    await first.sync()
    assert second.circuit_state("novita").value == "closed" and not second.snapshot()["novita"].circuit_open


@pytest.mark.parametrize(
    "replicas", [CircuitBreakerSpec(consecutive_failures=3, minimum_attempts=3, window_attempts=6, failure_rate_threshold=0.8)],
    indirect=True,
)
async def test_the_shared_circuit_opens_when_the_cluster_window_failure_rate_holds_too(replicas):
    first, second, _ = replicas
    for _ in range(6):
        _succeed(second)
    await second.sync()
    _fail(first, times=2)
    await first.sync()
    _fail(second, times=2)  # a shared run of 4, but 4 of the last 6 is under the 0.8 threshold
    await second.sync()
    await first.sync()
    assert not second.snapshot()["novita"].circuit_open and not first.snapshot()["novita"].circuit_open
    _fail(first)  # 5 of the last 6
    await first.sync()
    await second.sync()
    assert second.snapshot()["novita"].circuit_open
    assert second._local.circuit_state("novita").value == "closed"  # opened by the cluster's view, not its own


async def test_in_flight_counts_add_up_across_live_replicas(replicas):
    first, second, clock = replicas
    for _ in range(3):
        first.attempt_started("local")
    for _ in range(2):
        second.attempt_started("local")
    await first.sync()
    await second.sync()
    await first.sync()
    assert first.snapshot()["local"].in_flight == second.snapshot()["local"].in_flight == 5
    second.attempt_started("local")  # local news shows at once, the other's at its next sync
    assert second.snapshot()["local"].in_flight == 6
    clock.now_s += 60.0  # the first replica stops heart-beating (crashed): its requests stop counting
    await second.sync()
    assert second.snapshot()["local"].in_flight == 3


async def test_latency_window_is_shared(replicas):
    first, second, _ = replicas
    for ttft in range(10, 210, 10):  # 20 observations on the first replica only
        _succeed(first, ttft_ms=float(ttft))
    await first.sync()
    await second.sync()
    state = second.snapshot()["novita"]
    assert (state.ttft_p50_ms, state.ttft_p95_ms) == (110.0, 200.0)
    assert state.error_rate == 0.0 and state.avg_output_tokens == 100


async def test_the_latency_posterior_is_learned_from_every_replicas_responses(replicas):
    first, second, clock = replicas
    for ttft in (10.0, 12.0, 11.0):
        _succeed(first, "fast", ttft_ms=ttft)
    second.attempt_started("fast")  # and a non-streamed answer on the other replica
    second.record(make_outcome(backend="fast", ttft_ms=None, latency_ms=14.0, completion=1))
    await first.sync()
    await second.sync()
    await first.sync()
    mine, theirs = first.snapshot()["fast"].ttft_stats, second.snapshot()["fast"].ttft_stats
    assert mine == theirs  # one shared window, one posterior
    assert mine.weight == pytest.approx(1 + 0.7 + 0.7**2 + 0.7**3)  # four responses, newest weighing most
    assert 10.0 < mine.median_ms < 14.0


async def test_background_sync_spreads_state_without_explicit_calls(redis_url, prefix):
    clients = [connect_redis(redis_url) for _ in range(2)]
    first, second = (RedisStateStore(c, prefix, sync_interval_s=0.01) for c in clients)
    first.start()
    second.start()
    first.attempt_started("local")
    deadline = asyncio.get_running_loop().time() + POLL_TIMEOUT_S
    while second.snapshot().get("local") is None or second.snapshot()["local"].in_flight != 1:
        assert asyncio.get_running_loop().time() < deadline, "the other replica never saw the in-flight request"
        await asyncio.sleep(0.01)
    for store, client in ((first, clients[0]), (second, clients[1])):
        await store.close()
        await client.aclose()


async def test_redis_stopped_mid_use_serves_local_state_warns_once_and_resynchronises(tmp_path, caplog):
    server = RedisServer(tmp_path, closed_port())
    server.start()
    clients = [connect_redis(server.url) for _ in range(2)]
    first, second = (RedisStateStore(c, "outage:", circuit=BREAKER, replica_id=f"r{i}", stats_interval_s=0.0)
                     for i, c in enumerate(clients))
    try:
        await first.sync()
        await second.sync()
        assert first.shared and second.shared
        server.stop()
        with caplog.at_level(logging.INFO, logger="switchyard.state"):
            first.attempt_started("local")
            _succeed(first, "local", ttft_ms=250.0)
            _fail(first, times=3)
            await first.sync()
            await first.sync()
            state = first.snapshot()
            assert not first.shared
            assert state["local"].in_flight == 1 and state["local"].ttft_p50_ms == 250.0  # its own window
            assert state["novita"].circuit_open  # its own breaker
            server.start()  # empty: nothing persisted
            await first.sync()
            assert first.shared
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "Redis unavailable" in warnings[0].getMessage()
        assert any("resynchronised" in r.getMessage() for r in caplog.records)
        await second.sync()
        seen = second.snapshot()
        assert seen["local"].in_flight == 1 and seen["local"].ttft_p50_ms == 250.0
        assert seen["novita"].circuit_open
    finally:
        for store, client in ((first, clients[0]), (second, clients[1])):
            await store.close()
            await client.aclose()
        server.stop()


async def test_the_runtime_accepts_it_as_its_state_store(redis_url, prefix):
    client = connect_redis(redis_url)
    store = RedisStateStore(client, prefix)
    runtime = GatewayRuntime(accounting_policy(), state=store)
    runtime.hub.publish(make_outcome(backend="deepseek", ok=False))
    assert store.snapshot()["deepseek"].error_rate == 1.0
    await runtime.aclose()
    await store.close()
    await client.aclose()
