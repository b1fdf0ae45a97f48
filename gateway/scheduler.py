"""Periodic jobs (health probes, metrics scrapes, ledger drain, key refresh, price refresh) on
apscheduler's AsyncIOScheduler, in the gateway's event loop.

A job marked `once_per_cluster` first takes a Redis lock, `SET <prefix>lock:<job> <replica> NX PX
<interval>`, and runs only if it got it; the lock is not released but expires with the interval,
so among all replicas the job runs about once per interval, and another replica takes over when
the one that ran it dies. Other jobs run on every replica. Without Redis, or while Redis is away
(one warning), every job runs locally: each must be safe to run on several replicas at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["ClusterScheduler", "JobSpec"]

log = logging.getLogger("switchyard.scheduler")

Job = Callable[[], Awaitable[object]]
LOCK_MARGIN_MS = 50  # the lock expires this much before the next run is due, so timer jitter never skips a run


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One periodic job."""

    name: str
    func: Job
    every_s: float | None
    once_per_cluster: bool


class ClusterScheduler:
    """apscheduler's `AsyncIOScheduler` with cluster-wide jobs; see the module docstring.

    `add_job` takes apscheduler's arguments (so `gateway.live.jobs.register_live_jobs` can use
    it as its `JobScheduler`) plus `once_per_cluster`, which needs an interval trigger in seconds.
    """

    def __init__(self, redis: Redis | None = None, prefix: str = "switchyard:", *, replica_id: str | None = None,
                 scheduler: AsyncIOScheduler | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.replica_id = replica_id or f"{os.getpid()}:{os.urandom(3).hex()}"
        self.scheduler = scheduler or AsyncIOScheduler(timezone="UTC")
        self.jobs: dict[str, JobSpec] = {}
        self._redis_ok = True

    def add_job(self, func: Job, trigger: str = "interval", *, once_per_cluster: bool = False, **options: Any) -> Any:
        """Schedule `func` (a coroutine function) like `AsyncIOScheduler.add_job`; returns apscheduler's Job."""
        name = options.setdefault("id", options.get("name") or getattr(func, "__name__", "job"))
        if name in self.jobs:
            raise ValueError(f"job {name!r} is already scheduled")
        every_s = options.get("seconds") if trigger == "interval" else None
        if once_per_cluster and every_s is None:
            raise ValueError(f"job {name!r}: once_per_cluster needs an interval trigger with seconds")
        self.jobs[name] = JobSpec(name, func, every_s, once_per_cluster)
        return self.scheduler.add_job(self.run_now, trigger, args=[name], **options)

    def start(self) -> None:
        """Start on the running event loop (app start-up)."""
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def run_now(self, name: str) -> bool:
        """Run job `name` if this replica may (its lock, for once-per-cluster jobs); True if it ran."""
        spec = self.jobs[name]
        if spec.once_per_cluster and not await self._claim(spec):
            return False
        try:
            await spec.func()
        except Exception:
            log.exception("scheduled job %s failed", name)
        return True

    async def _claim(self, spec: JobSpec) -> bool:
        if self.redis is None or spec.every_s is None:
            return True
        ttl_ms = max(1, int(spec.every_s * 1000) - LOCK_MARGIN_MS)
        try:
            claimed = await self.redis.set(f"{self.prefix}lock:{spec.name}", self.replica_id, nx=True, px=ttl_ms)
        except (RedisError, OSError) as exc:
            if self._redis_ok:
                log.warning("scheduler: Redis unavailable (%s); running cluster-wide jobs on this replica too",
                            type(exc).__name__)
                self._redis_ok = False
            return True
        if not self._redis_ok:
            log.info("scheduler: Redis is back; cluster-wide jobs run once per cluster again")
            self._redis_ok = True
        return bool(claimed)
