"""Budgets and rate limits per key: in-process, and shared by replicas through Redis's Lua script."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest
from accounting_fixtures import FakeClock, accounting_policy, closed_port, make_outcome, prefix  # noqa: F401 - fixture

from gateway.limits import (
    BudgetExceededError,
    KeyLimits,
    MemoryLimitStore,
    RateLimitedError,
    RedisLimitStore,
    RequestSettlements,
    expected_spend,
)
from gateway.limits.windows import budget_periods, retry_after_ms, sliding_count
from gateway.redis_connection import connect_redis
from policies.engine import decide
from policies.features import extract_features

MINUTE_START_S = 1_764_000_000.0 - (1_764_000_000.0 % 60)  # a whole UTC minute, mid-month



@pytest.mark.parametrize(
    ("now_s", "day_id", "month_id"),
    [
        (1_764_000_000.0, "day:20251124", "month:202511"),
        (1_764_547_199.999, "day:20251130", "month:202511"),  # the last instant of November (UTC)
        (1_764_547_200.0, "day:20251201", "month:202512"),
        (951_782_400.0, "day:20000229", "month:200002"),  # a leap day
    ],
)
def test_budget_periods_are_named_after_the_utc_day_and_month(now_s, day_id, month_id):
    periods = budget_periods(1.5, 20.0, 100.0, now_s)
    assert [(p.period_id, p.limit_nano_usd) for p in periods] == [
        (day_id, 1_500_000_000), (month_id, 20_000_000_000), ("total", 100_000_000_000)]
    assert [p.period_id for p in budget_periods(None, 20.0, None, now_s)] == [month_id]


def test_sliding_window_weights_the_previous_minute_by_what_is_left_of_it():
    assert sliding_count(previous=10, current=2, elapsed_ms=45_000) == 10 * 0.25 + 2
    # 5 of 5 used at the start of a minute: the next fits 12 s into the next minute (5 x 48/60 + 1 = 5)
    assert retry_after_ms(previous=0, current=5, cost=1, limit=5, elapsed_ms=0) == 72_000
    # the previous minute was full, this one is empty, 30 s in: 10 x (60 - t)/60 + 1 <= 10 at t = 6 s
    assert retry_after_ms(previous=10, current=0, cost=1, limit=10, elapsed_ms=30_000) == pytest.approx(0.0)
    assert retry_after_ms(previous=10, current=0, cost=1, limit=10, elapsed_ms=3_000) == pytest.approx(3_000)


async def test_memory_rpm_refuses_the_sixth_request_with_retry_after():
    store = MemoryLimitStore(FakeClock(MINUTE_START_S))
    limits = KeyLimits("team-a", rpm=5)
    for _ in range(5):
        await store.reserve(limits, expected_usd=0.0, expected_tokens=10)
    with pytest.raises(RateLimitedError) as refused:
        await store.reserve(limits, expected_usd=0.0, expected_tokens=10)
    assert refused.value.status == 429 and refused.value.headers == {"retry-after": "72"}
    assert "team-a" in refused.value.message and "5 requests per minute" in refused.value.message


async def test_memory_tpm_counts_real_tokens_after_settling():
    clock = FakeClock(MINUTE_START_S)
    store = MemoryLimitStore(clock)
    limits = KeyLimits("team-a", tpm=1_000)
    first = await store.reserve(limits, expected_usd=0.0, expected_tokens=900)
    with pytest.raises(RateLimitedError):
        await store.reserve(limits, expected_usd=0.0, expected_tokens=200)
    store.settle(first, actual_usd=0.0, actual_tokens=300)  # it used far fewer tokens than reserved
    await store.reserve(limits, expected_usd=0.0, expected_tokens=600)


async def test_memory_budget_refuses_what_would_pass_it_and_frees_unused_reservations():
    store = MemoryLimitStore(FakeClock(MINUTE_START_S))
    limits = KeyLimits("team-a", daily_usd=1.0, monthly_usd=10.0)
    held = [await store.reserve(limits, expected_usd=0.3, expected_tokens=0) for _ in range(3)]
    with pytest.raises(BudgetExceededError) as refused:
        await store.reserve(limits, expected_usd=0.3, expected_tokens=0)
    assert (refused.value.status, refused.value.code) == (429, "budget_exceeded")
    assert "daily budget of 1 USD" in refused.value.message
    for reservation in held:
        store.settle(reservation, actual_usd=0.2, actual_tokens=0)
    assert store.remaining_usd("team-a") == pytest.approx(0.4)
    await store.reserve(limits, expected_usd=0.3, expected_tokens=0)


async def test_unlimited_key_reserves_nothing():
    assert await MemoryLimitStore().reserve(KeyLimits("free"), expected_usd=5.0, expected_tokens=5) is None


async def _spend_until_refused(store: RedisLimitStore, limits: KeyLimits, expected_usd: float, actual_usd: float) -> int:
    admitted = 0
    while True:
        try:
            reservation = await store.reserve(limits, expected_usd=expected_usd, expected_tokens=0)
        except BudgetExceededError:
            return admitted
        admitted += 1
        await asyncio.sleep(0)  # the upstream call
        store.settle(reservation, actual_usd=actual_usd, actual_tokens=0)


@pytest.mark.redis
@pytest.mark.parametrize("actual_usd", [0.04, 0.06])  # under and over the 0.05 USD each request reserved
async def test_budget_across_replicas_and_concurrent_clients_overspends_at_most_the_in_flight_excess(redis_url, prefix, actual_usd):
    clients = [connect_redis(redis_url) for _ in range(3)]
    replicas = [RedisLimitStore(client, prefix, clock=FakeClock(MINUTE_START_S + 1)) for client in clients]
    for replica in replicas:
        replica.start()
    limits = KeyLimits("team-a", monthly_usd=1.0)
    tasks_per_replica = 10
    admitted = await asyncio.gather(*(_spend_until_refused(r, limits, 0.05, actual_usd)
                                      for r in replicas for _ in range(tasks_per_replica)))
    for replica in replicas:
        await replica.close()
    budget = await clients[0].hgetall(f"{prefix}limit:{{team-a}}:budget:month:202511")
    spent_usd, reserved = int(budget[b"spent"]) / 1e9, int(budget[b"reserved"])
    in_flight = len(replicas) * tasks_per_replica
    assert reserved == 0
    assert spent_usd == pytest.approx(sum(admitted) * actual_usd)
    assert spent_usd <= 1.0 + in_flight * max(0.0, actual_usd - 0.05) + 1e-9
    assert spent_usd >= 1.0 - 0.05 - in_flight * 0.05  # the budget was really used, not refused early
    if actual_usd <= 0.05:
        assert spent_usd <= 1.0
    for client in clients:
        await client.aclose()


@pytest.mark.redis
async def test_rate_limit_is_global_across_replicas(redis_url, prefix):
    clock = FakeClock(MINUTE_START_S + 1)
    clients = [connect_redis(redis_url) for _ in range(3)]
    replicas = [RedisLimitStore(client, prefix, clock=clock) for client in clients]
    limits = KeyLimits("team-a", rpm=20)

    async def attempt(store: RedisLimitStore) -> int | None:
        try:
            await store.reserve(limits, expected_usd=0.0, expected_tokens=0)
        except RateLimitedError as exc:
            return exc.retry_after_s
        return None

    outcomes = await asyncio.gather(*(attempt(replicas[i % 3]) for i in range(60)))
    assert outcomes.count(None) == 20
    assert set(outcomes) - {None} == {62}  # 59 s to the next minute, then 3 s until 20 x (60 - t)/60 + 1 <= 20
    for client in clients:
        await client.aclose()


@pytest.mark.redis
async def test_redis_tpm_settles_real_tokens(redis_url, prefix):
    client = connect_redis(redis_url)
    store = RedisLimitStore(client, prefix, clock=FakeClock(MINUTE_START_S + 1))
    limits = KeyLimits("team-a", tpm=1_000)
    first = await store.reserve(limits, expected_usd=0.0, expected_tokens=900)
    with pytest.raises(RateLimitedError):
        await store.reserve(limits, expected_usd=0.0, expected_tokens=200)
    store.settle(first, actual_usd=0.0, actual_tokens=300)
    await store.flush()
    await store.reserve(limits, expected_usd=0.0, expected_tokens=600)
    await client.aclose()


async def test_redis_away_falls_back_to_local_limits_and_warns_once(caplog):
    client = connect_redis(f"redis://127.0.0.1:{closed_port()}/0")
    store = RedisLimitStore(client, "x:", clock=FakeClock(MINUTE_START_S))
    limits = KeyLimits("team-a", rpm=2)
    with caplog.at_level(logging.WARNING, logger="switchyard.limits"):
        await store.reserve(limits, expected_usd=0.0, expected_tokens=0)
        await store.reserve(limits, expected_usd=0.0, expected_tokens=0)
        with pytest.raises(RateLimitedError):
            await store.reserve(limits, expected_usd=0.0, expected_tokens=0)
    assert len([r for r in caplog.records if "Redis unavailable" in r.message]) == 1
    await store.close()
    await client.aclose()


async def test_a_request_reserves_its_dearest_candidate_and_settles_the_sum_of_its_attempts():
    policy = accounting_policy()
    body = {"model": "deepseek-v3.2", "messages": [{"role": "user", "content": "x" * 4000}], "max_tokens": 1000}
    features = extract_features(body, {}, policy)
    decision = decide(policy, features, {})
    usd, tokens = expected_spend(decision, features, max_attempts=3)
    kept = {c.backend: c.expected_cost_usd for c in decision.candidates if c.kept}
    assert usd == max(kept.values()) == kept["fireworks"] > 0  # the dearest backend the request may fall back to
    assert tokens == features.input_tokens + 1000
    store = MemoryLimitStore(FakeClock(MINUTE_START_S))
    settlements = RequestSettlements(store)
    limits = KeyLimits("team-a", daily_usd=1.0)
    settlements.open("req_1", await store.reserve(limits, expected_usd=usd, expected_tokens=tokens))
    settlements.on_outcome(replace(make_outcome("req_1", backend="local", ok=False), cost_usd=None))
    settlements.on_outcome(replace(make_outcome("req_1", attempt=2), cost_usd=0.125))
    settlements.on_outcome(replace(make_outcome("req_other"), cost_usd=9.0))  # not an admitted request here
    settlements.close("req_1")
    assert store.remaining_usd("team-a") == pytest.approx(0.875)
    settlements.close("req_1")  # closing twice settles once
    assert store.remaining_usd("team-a") == pytest.approx(0.875)
