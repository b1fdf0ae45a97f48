"""Health probes: GET /health of self-hosted engines, GET /models of managed providers.

A backend turns unhealthy after `FAILURES_TO_UNHEALTHY` failed probes in a row (one lost probe
during a restart should not take it out of rotation) and healthy again on the first success.
Logs name the backend and the HTTP status or error class, never a URL's query or a header, so
no key reaches a log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import httpx

from gateway.live.endpoints import health_url
from gateway.live.observed import ObservedFigures
from policies.schema import BackendSpec

__all__ = ["probe_backends", "probe_verdict", "FAILURES_TO_UNHEALTHY"]

log = logging.getLogger("switchyard.live.probes")

FAILURES_TO_UNHEALTHY = 2
_ALIVE_STATUSES = frozenset({404, 429})  # /models: no such endpoint, or rate-limited: the API itself answers


def probe_verdict(status: int, needs_key: bool) -> str | None:
    """None when a probe's HTTP status means healthy, else why not."""
    if 200 <= status < 300 or (needs_key and status in _ALIVE_STATUSES):
        return None
    if status in (401, 403):
        return f"HTTP {status}: the provider rejected the API key"
    return f"HTTP {status}"


async def _probe(client: httpx.AsyncClient, spec: BackendSpec, timeout_s: float) -> str | None:
    target = health_url(spec)
    if target is None:
        return None
    url, needs_key = target
    headers = {}
    if needs_key and spec.api_key is not None:
        headers["authorization"] = f"Bearer {spec.api_key.get_secret_value()}"
    try:
        response = await client.get(url, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return probe_verdict(response.status_code, needs_key)


def _note(figures: ObservedFigures, name: str, error: str | None) -> None:
    observed = figures.of(name)
    was_healthy = observed.healthy
    observed.probed_at = time.time()
    observed.probe_error = error
    observed.probe_failures = 0 if error is None else observed.probe_failures + 1
    observed.healthy = observed.probe_failures < FAILURES_TO_UNHEALTHY
    if observed.healthy == was_healthy:
        return  # nothing routing reads has changed
    if observed.healthy:
        log.warning("backend %s is healthy again", name)
    else:
        log.warning("backend %s is unhealthy: %d failed health probes, last: %s", name, observed.probe_failures, error)
    figures.publish(name)


async def probe_backends(
    client: httpx.AsyncClient, backends: Iterable[tuple[str, BackendSpec]], figures: ObservedFigures, *, timeout_s: float
) -> None:
    """Probe every given backend at once and record the verdicts."""
    named = [(name, spec) for name, spec in backends if health_url(spec) is not None]
    errors = await asyncio.gather(*(_probe(client, spec, timeout_s) for _, spec in named))
    for (name, _), error in zip(named, errors):
        _note(figures, name, error)
