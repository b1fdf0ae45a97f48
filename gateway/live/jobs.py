"""The live-state jobs a gateway runs on its scheduler, and what they share (one HTTP client)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Protocol

import httpx

from gateway.live.endpoints import health_url
from gateway.live.observed import ObservedFigures
from gateway.live.probes import probe_backends
from gateway.live.reload import PolicyWatcher
from gateway.live.scrape import scrape_backends
from gateway.runtime import GatewayRuntime
from gateway.settings import GatewaySettings
from planner.prices import reload_cost_map_if_changed
from policies.compiled import repriced
from policies.schema import BackendSpec

__all__ = ["LiveJobs", "register_live_jobs", "JobScheduler"]

log = logging.getLogger("switchyard.live")

PROBE_TIMEOUT_S = 2.0
SCRAPE_TIMEOUT_S = 1.5  # under the 2 s scrape interval, so a slow page never stacks scrapes
_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16)


class JobScheduler(Protocol):
    """The part of apscheduler's scheduler API the jobs use (`AsyncIOScheduler.add_job`), as
    `gateway.scheduler.ClusterScheduler` offers it."""

    def add_job(self, func: Callable[[], Awaitable[None]], trigger: str, **options: Any) -> Any: ...


class LiveJobs:
    """Health probes, /metrics scrapes, the policy watcher and the price refresh of one gateway process."""

    def __init__(self, runtime: GatewayRuntime, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.runtime = runtime
        self.figures = ObservedFigures(runtime.state)
        self.client = httpx.AsyncClient(limits=_LIMITS, follow_redirects=False, transport=transport)
        self.watcher = PolicyWatcher(runtime, runtime.policy_path) if runtime.policy_path is not None else None

    def _backends(self, *, keyed: bool) -> list[tuple[str, BackendSpec]]:
        """Backends probed on /health (keyed False) or on /models with their key (keyed True)."""
        chosen = []
        for name, entry in self.runtime.backends.items():
            target = health_url(entry.spec)
            if target is not None and target[1] is keyed:
                chosen.append((name, entry.spec))
        return chosen

    async def probe_engines(self) -> None:
        await probe_backends(self.client, self._backends(keyed=False), self.figures, timeout_s=PROBE_TIMEOUT_S)

    async def probe_providers(self) -> None:
        await probe_backends(self.client, self._backends(keyed=True), self.figures, timeout_s=PROBE_TIMEOUT_S)

    async def scrape_metrics(self) -> None:
        backends = [(name, entry.spec) for name, entry in self.runtime.backends.items()]
        await scrape_backends(self.client, backends, self.figures, timeout_s=SCRAPE_TIMEOUT_S)

    async def watch_policy(self) -> None:
        if self.watcher is not None:
            await self.watcher.check()

    async def refresh_prices(self) -> None:
        """Re-read prices when litellm's cost map changed on disk: the policy is recompiled with them
        and applied like a reload (connections kept), so routing and the ledger price what comes next."""
        if await asyncio.to_thread(reload_cost_map_if_changed):
            policy = self.runtime.policy
            fresh = await asyncio.to_thread(repriced, policy)  # re-reads the cost map file: off the loop
            if self.runtime.policy is not policy:  # hot-reloaded meanwhile: re-price that one (map now in memory)
                fresh = repriced(self.runtime.policy)
            self.runtime.apply_policy(fresh)
            log.info("litellm cost map changed on disk: prices re-read")

    async def aclose(self) -> None:
        await self.client.aclose()


def register_live_jobs(scheduler: JobScheduler, runtime: GatewayRuntime, settings: GatewaySettings) -> LiveJobs:
    """Add the live-state jobs to `scheduler`; each runs once at start, then every interval.

    Every job is an interval job with one instance at a time and missed runs coalesced, so a
    slow upstream delays the next probe instead of piling them up. They run on every replica
    (not `once_per_cluster`): probed and scraped figures live in each replica's store, and each
    replica serves its own copy of the policy file.
    """
    jobs = LiveJobs(runtime)
    now = datetime.now(timezone.utc)
    plan: list[tuple[str, Callable[[], Awaitable[None]], float]] = [
        ("probe-engines", jobs.probe_engines, settings.health_interval_s),
        ("probe-providers", jobs.probe_providers, settings.provider_health_interval_s),
        ("scrape-metrics", jobs.scrape_metrics, settings.scrape_interval_s),
        ("refresh-prices", jobs.refresh_prices, settings.price_refresh_s),
    ]
    if jobs.watcher is not None:
        plan.append(("watch-policy", jobs.watch_policy, settings.policy_poll_s))
    for job_id, func, interval_s in plan:
        scheduler.add_job(
            func, "interval", seconds=interval_s, id=job_id, name=job_id, next_run_time=now,
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )
    return jobs
