"""Periodic jobs: once-per-cluster jobs take a Redis lock, the others run on every replica."""

from __future__ import annotations

import asyncio
import logging

import pytest
from accounting_fixtures import closed_port, prefix  # noqa: F401 - fixture

from gateway.redis_connection import connect_redis
from gateway.scheduler import ClusterScheduler

POLL_TIMEOUT_S = 10.0  # a backstop: conditions are polled


class Counter:
    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self) -> None:
        self.runs += 1


async def _until(condition, what: str) -> None:  # noqa: ANN001 - a zero-argument predicate
    deadline = asyncio.get_running_loop().time() + POLL_TIMEOUT_S
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.01)


@pytest.mark.redis
async def test_a_cluster_job_runs_on_one_replica_per_interval_and_a_local_job_on_each(redis_url, prefix):
    clients = [connect_redis(redis_url) for _ in range(3)]
    replicas = [ClusterScheduler(c, prefix, replica_id=f"r{i}") for i, c in enumerate(clients)]
    drain, probe = Counter(), Counter()
    for scheduler in replicas:
        scheduler.add_job(drain, "interval", seconds=60.0, id="ledger-drain", once_per_cluster=True)
        scheduler.add_job(probe, "interval", seconds=60.0, id="health-probe")
    ran = await asyncio.gather(*(s.run_now("ledger-drain") for s in replicas))
    assert sorted(ran) == [False, False, True] and drain.runs == 1
    assert await asyncio.gather(*(s.run_now("health-probe") for s in replicas)) == [True, True, True]
    assert probe.runs == 3
    holder = await clients[0].get(f"{prefix}lock:ledger-drain")
    assert holder.decode() == f"r{ran.index(True)}"
    assert 0 < await clients[0].pttl(f"{prefix}lock:ledger-drain") <= 60_000
    for client in clients:
        await client.aclose()


@pytest.mark.redis
async def test_the_lock_expires_with_the_interval_so_another_replica_can_take_over(redis_url, prefix):
    clients = [connect_redis(redis_url) for _ in range(2)]
    first, second = (ClusterScheduler(c, prefix) for c in clients)
    job = Counter()
    for scheduler in (first, second):
        scheduler.add_job(job, "interval", seconds=0.2, id="rollover", once_per_cluster=True)
    assert await first.run_now("rollover")
    assert not await second.run_now("rollover")
    deadline = asyncio.get_running_loop().time() + POLL_TIMEOUT_S
    while not await second.run_now("rollover"):
        assert asyncio.get_running_loop().time() < deadline, "the lock never expired"
        await asyncio.sleep(0.02)
    assert job.runs == 2
    for client in clients:
        await client.aclose()


async def test_started_scheduler_runs_jobs_periodically_in_the_event_loop():
    scheduler = ClusterScheduler()
    job = Counter()
    scheduler.add_job(job, "interval", seconds=0.05, id="tick", max_instances=1, coalesce=True)
    scheduler.start()
    try:
        await _until(lambda: job.runs >= 3, "the job did not run three times")
    finally:
        scheduler.shutdown()


async def test_redis_away_runs_cluster_jobs_locally_and_warns_once(caplog):
    client = connect_redis(f"redis://127.0.0.1:{closed_port()}/0")
    scheduler = ClusterScheduler(client, "x:")
    job = Counter()
    scheduler.add_job(job, "interval", seconds=1.0, id="drain", once_per_cluster=True)
    with caplog.at_level(logging.WARNING, logger="switchyard.scheduler"):
        assert await scheduler.run_now("drain") and await scheduler.run_now("drain")
    assert job.runs == 2
    assert len([r for r in caplog.records if "Redis unavailable" in r.getMessage()]) == 1
    await client.aclose()


async def test_a_failing_job_is_logged_and_does_not_stop_the_scheduler(caplog):
    scheduler = ClusterScheduler()

    async def broken() -> None:
        raise RuntimeError("boom")

    scheduler.add_job(broken, "interval", seconds=1.0)
    with caplog.at_level(logging.ERROR, logger="switchyard.scheduler"):
        assert await scheduler.run_now("broken")
    assert "scheduled job broken failed" in caplog.text
    with pytest.raises(ValueError, match="already scheduled"):
        scheduler.add_job(broken, "interval", seconds=1.0)
    with pytest.raises(ValueError, match="needs an interval trigger"):
        scheduler.add_job(broken, "cron", hour=3, id="nightly", once_per_cluster=True)
