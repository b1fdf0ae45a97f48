"""Admin endpoints the console needs beyond status, usage and spend: its session (the CSRF token),
the redacted policy, an explain form, and the stored explanation of a recorded request.

Reads are guarded like every `/admin` call; the forms (POST) need the admin key itself and, from
a browser, a same-origin request with the CSRF token (`require_admin_write`).
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.admin import PolicyStatus, policy_status
from gateway.api.auth import require_admin_key, require_admin_write
from gateway.api.body import check_chat_body
from gateway.api.routing import route_request
from gateway.errors import NotFoundError
from gateway.services import GatewayServices
from policies.decision import DecisionReport
from policies.redaction import redacted_policy

__all__ = ["router", "ConsoleSession", "PolicyView", "ExplainForm", "RequestExplanation"]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin_key)])
_rng = random.Random()  # weighted routes draw as a real request would


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsoleSession(_View):
    """`GET /admin/console/session`: what the console needs once logged in."""

    csrf_token: str = Field(description="Send it as X-Switchyard-CSRF on every POST and DELETE the console makes.")
    demo: bool = Field(description="The gateway runs the demo: its emulated backends can be stopped and started.")
    decisions_kept: int = Field(description="How many of the newest requests' routing decisions this replica keeps.")


@router.get("/console/session", response_model=ConsoleSession)
async def console_session(request: Request) -> ConsoleSession:
    """The console's login check: 403 unless the admin key is set and sent (no open access)."""
    services: GatewayServices = request.app.state.services
    services.auth.check_admin(request.headers.get("authorization"), key_required=True)
    token = services.auth.console_token()
    assert token is not None  # an admin key is set
    return ConsoleSession(csrf_token=token, demo=getattr(request.app.state, "demo", None) is not None,
                          decisions_kept=services.decisions.capacity)


class PolicyView(_View):
    """`GET /admin/policy`: the policy in force (secrets redacted) and how hot reload stands."""

    status: PolicyStatus
    policy: dict[str, Any] = Field(description="The parsed policy, defaults filled in, secrets replaced by [redacted].")
    yaml: str = Field(description="The same, as YAML.")


@router.get("/policy", response_model=PolicyView)
async def admin_policy(request: Request) -> PolicyView:
    policy = redacted_policy(request.app.state.runtime.policy)
    return PolicyView(status=policy_status(request), policy=policy,
                      yaml=yaml.safe_dump(policy, sort_keys=False, default_flow_style=False, allow_unicode=True))


class ExplainForm(_View):
    """`POST /admin/explain`: a chat completions body, and optionally the client key it would come with."""

    request: dict[str, Any] = Field(description="A /v1/chat/completions body.")
    key: str | None = Field(None, description="Route as this client key (its tags and remaining budget), by name.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers routing may read.")


@router.post("/explain", response_model=DecisionReport, dependencies=[Depends(require_admin_write)])
async def admin_explain(form: ExplainForm, request: Request) -> DecisionReport:
    """Where the request would go now and why (the same JSON as `POST /v1/route/explain`), as the
    admin: no client key needed. No backend is called."""
    services: GatewayServices = request.app.state.services
    check_chat_body(form.request, max_messages=request.app.state.settings.max_messages)
    key = None
    if form.key:
        key = services.auth.keys.by_name(form.key)
        if key is None:
            raise NotFoundError(f"no client key named {form.key!r}")
    _, decision = await route_request(request.app.state.runtime, form.request, form.headers, _rng,
                                      key_tags=key.tags if key else frozenset(),
                                      budget_remaining_usd=services.budget_remaining_usd(key), affinity=services.affinity)
    return DecisionReport.from_decision(decision)


class RequestExplanation(_View):
    """`GET /admin/requests/{request_id}/explanation`: the routing decision a recorded request got."""

    request_id: str
    decided_at: datetime
    decision: DecisionReport


@router.get("/requests/{request_id}/explanation", response_model=RequestExplanation)
async def request_explanation(request_id: str, request: Request) -> RequestExplanation:
    """The decision as it was made (stored when the request was routed, not recomputed), while this
    replica still keeps it: the newest `decisions_kept` requests."""
    services: GatewayServices = request.app.state.services
    kept = services.decisions.get(request_id)
    if kept is None:
        raise NotFoundError(f"no routing decision kept for {request_id}: this replica keeps the newest "
                            f"{services.decisions.capacity} requests' decisions, since it started")
    return RequestExplanation(request_id=request_id, decided_at=datetime.fromtimestamp(kept.decided_at, timezone.utc),
                              decision=DecisionReport.from_decision(kept.decision))
