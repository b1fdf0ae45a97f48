"""`GET /admin/status` (the policy in force, its last reload error, each backend's live state),
`GET /admin/usage` (usage ledger records, newest first, paged) and `GET /admin/spend` (the ledger
summed, with savings).

Everything under /admin is in this one router, guarded by the admin key in one place.
No secret is ever returned: backends are shown by name, type and model, never by key or URL;
keys by name only.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.auth import require_admin_key
from gateway.errors import InvalidRequestError
from gateway.ledger.record import RecordId, UsageRecord
from gateway.ledger.spend import SpendBy, SpendReport, spend_report
from gateway.ledger.sqlite_sink import UnknownRecordError, UsageFilter
from gateway.services import GatewayServices
from gateway.live.jobs import LiveJobs
from gateway.live.observed import ObservedBackend
from gateway.runtime import GatewayRuntime
from policies.state import UNKNOWN_STATE

__all__ = ["router", "AdminStatus", "PolicyStatus", "UsageList", "policy_status"]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin_key)])
MAX_USAGE_RECORDS = 10_000


def _utc(unix_s: float | None) -> datetime | None:
    return None if unix_s is None else datetime.fromtimestamp(unix_s, timezone.utc)


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReloadErrorStatus(_Report):
    """The last rejected policy file."""

    message: str
    at: datetime


class PolicyStatus(_Report):
    """The policy being served and how hot reload stands."""

    source: str
    loaded_at: datetime
    watching: bool
    sha256: str | None
    reloads: int
    last_reload_error: ReloadErrorStatus | None


class PriceStatus(_Report):
    """What one backend's tokens are billed at (USD per million tokens) and where the figures came from."""

    input_usd_per_mtok: float
    cached_input_usd_per_mtok: float | None
    output_usd_per_mtok: float
    source: str


class LatencyStatsStatus(_Report):
    """policies.latency_posterior.LogLatencyStats: decayed sufficient statistics of log(ms), what
    `prefer: latency` samples from (weight: effective responses; exp(sum_log_ms / weight): median ms)."""

    weight: float
    sum_log_ms: float
    sum_sq_log_ms: float


class BackendStatus(_Report):
    """One backend's live state as routing sees it, plus the live jobs' last results."""

    type: str
    model: str
    circuit: str  # closed | open | half_open
    # policies.state.BackendState, as the policy engine gets it:
    healthy: bool
    circuit_open: bool
    in_flight: int
    waiting: int | None
    running: int | None
    kv_usage: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    tpot_p50_ms: float | None
    tpot_p95_ms: float | None
    error_rate: float | None
    avg_output_tokens: float | None
    cache_hit_ratio: float | None
    ttft_stats: LatencyStatsStatus | None = None
    tpot_stats: LatencyStatsStatus | None = None
    # the live jobs' last results:
    probed_at: datetime | None
    probe_error: str | None
    scraped_at: datetime | None
    scrape_error: str | None
    price: PriceStatus | None = None  # None: no price known (requests are recorded unpriced)


class AdminStatus(_Report):
    """`GET /admin/status`."""

    policy: PolicyStatus
    backends: dict[str, BackendStatus]


def policy_status(request: Request) -> PolicyStatus:
    """The policy in force and how hot reload stands (`/admin/status`, the console's Policy page)."""
    runtime: GatewayRuntime = request.app.state.runtime
    live: LiveJobs | None = getattr(request.app.state, "live", None)
    watcher = live.watcher if live is not None else None
    error = watcher.last_error if watcher is not None else None
    return PolicyStatus(
        source=runtime.source,
        loaded_at=datetime.fromtimestamp(runtime.loaded_at, timezone.utc),
        watching=watcher is not None,
        sha256=watcher.digest if watcher is not None else None,
        reloads=watcher.reloads if watcher is not None else 0,
        last_reload_error=None if error is None else ReloadErrorStatus(message=error.message, at=_utc(error.at)),
    )


@router.get("/status", response_model=AdminStatus)
async def admin_status(request: Request) -> AdminStatus:
    """Policy source, load time and last reload error; per-backend health, circuit, load, latency and price."""
    runtime: GatewayRuntime = request.app.state.runtime
    live: LiveJobs | None = getattr(request.app.state, "live", None)
    policy = policy_status(request)
    snapshot = runtime.state.snapshot()
    backends = {}
    for name, entry in runtime.backends.items():
        state = snapshot.get(name, UNKNOWN_STATE)
        seen = live.figures.backends.get(name) if live is not None else None
        seen = seen or ObservedBackend()
        backends[name] = BackendStatus(
            type=entry.spec.type if entry.spec.profile is None else f"{entry.spec.type}/{entry.spec.profile}",
            model=entry.spec.model,
            circuit=runtime.state.circuit_state(name).value,
            **asdict(state),
            probed_at=_utc(seen.probed_at),
            probe_error=seen.probe_error,
            scraped_at=_utc(seen.scraped_at),
            scrape_error=seen.scrape_error,
            price=None if entry.price is None else PriceStatus(**asdict(entry.price)),
        )
    return AdminStatus(policy=policy, backends=backends)


class UsageList(_Report):
    """`GET /admin/usage`: one page of ledger records, newest first, in the shape of OpenAI's list endpoints."""

    object: Literal["list"] = "list"
    data: list[UsageRecord]
    first_id: str | None = Field(description="Id of the page's first (newest) record; `before` it pages to newer ones.")
    last_id: str | None = Field(description="Id of the page's last (oldest) record; `after` it pages to older ones.")
    has_more: bool = Field(description="More records match beyond this page in the direction paged.")
    ledger: str = Field(description="The ledger file read.")


def _unix_s(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _cursor(name: str, value: str | None) -> RecordId | None:
    if value is None:
        return None
    try:
        return RecordId.parse(value)
    except ValueError as exc:
        raise InvalidRequestError(f"{name}: {exc}", param=name) from None


@router.get("/usage", response_model=UsageList)
async def admin_usage(
    request: Request,
    since: datetime | None = Query(None, description="First start time to include (ISO 8601 or unix seconds)."),
    until: datetime | None = Query(None, description="First start time to leave out."),
    key: str | None = Query(None, description="Only this key's records (by name)."),
    backend: str | None = Query(None, description="Only this backend's attempts."),
    route: str | None = Query(None, description="Only requests of this route."),
    status: int | None = Query(None, ge=100, le=599, description="Only attempts that ended with this HTTP status."),
    ok: bool | None = Query(None, description="Only successful (true) or failed (false) attempts."),
    after: str | None = Query(None, description="A record id: the page of records older than it."),
    before: str | None = Query(None, description="A record id: the page of records newer than it."),
    limit: int = Query(1000, ge=1, le=MAX_USAGE_RECORDS, description="At most this many records."),
) -> UsageList:
    """One record per upstream attempt (tokens, cost, latency, status, fallback chain), newest first,
    paged with `after` (older) or `before` (newer) a record id. With Redis, records still in the
    stream appear once drained (about a second)."""
    if after is not None and before is not None:
        raise InvalidRequestError("give after or before, not both", param="before")
    cursors = {"after": _cursor("after", after), "before": _cursor("before", before)}
    match = UsageFilter(since_s=_unix_s(since), until_s=_unix_s(until), key_name=key, backend=backend, route=route,
                        status=status, ok=ok)
    services: GatewayServices = request.app.state.services
    try:
        page = await asyncio.to_thread(services.ledger.ledger.page, match, limit=limit, **cursors)
    except UnknownRecordError as exc:
        raise InvalidRequestError(str(exc), param="after" if after is not None else "before") from None
    records = page.records
    return UsageList(data=records, first_id=records[0].id if records else None, last_id=records[-1].id if records else None,
                     has_more=page.has_more, ledger=str(services.ledger_file))


@router.get("/spend", response_model=SpendReport)
async def admin_spend(
    request: Request,
    by: SpendBy = Query("backend", description="Group by day, backend, key, route or thinking "
                        "(what decided the thinking need: detected/on, body/off, ...)."),
    since: datetime | None = Query(None, description="First start time to include (ISO 8601 or unix seconds)."),
    until: datetime | None = Query(None, description="First start time to leave out."),
) -> SpendReport:
    """Tokens and dollars per group, adding up exactly to the records, with the savings against the
    cheapest managed provider for the same tokens (the JSON of `gateway spend --json`)."""
    services: GatewayServices = request.app.state.services
    return await asyncio.to_thread(spend_report, services.ledger.ledger, by, since_s=_unix_s(since), until_s=_unix_s(until))
