"""`POST /v1/route/explain`: where a chat request would go and why, without calling any backend."""

from __future__ import annotations

import random

from fastapi import APIRouter, Request

from gateway.api.body import check_chat_body, read_json_body
from gateway.api.schemas import ChatCompletionRequest, openapi_body
from gateway.api.routing import route_request
from gateway.runtime import GatewayRuntime
from gateway.services import GatewayServices
from gateway.settings import GatewaySettings
from policies.decision import DecisionReport

__all__ = ["router"]

router = APIRouter()
_rng = random.Random()  # weighted routes draw as a real request would


@router.post(
    "/v1/route/explain",
    response_model=DecisionReport,
    openapi_extra=openapi_body(ChatCompletionRequest),
    tags=["routing"],
    summary="Explain the routing decision for a chat completions body",
    responses={404: {"description": "Unknown model alias"}, 503: {"description": "Every candidate was filtered out"}},
)
async def explain_route(request: Request) -> DecisionReport:
    """The decision for this body under the live backend state: the matched route, the fallback
    chain, and every candidate with the reason it was kept or dropped and its expected cost.
    The same JSON as `gateway explain`. No backend is called."""
    settings: GatewaySettings = request.app.state.settings
    runtime: GatewayRuntime = request.app.state.runtime
    services: GatewayServices = request.app.state.services
    key = services.authenticate(request.headers.get("authorization"))
    body = await read_json_body(request, max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes)
    check_chat_body(body, max_messages=settings.max_messages)
    _, decision = await route_request(runtime, body, request.headers, _rng, key_tags=key.tags if key else frozenset(),
                                      budget_remaining_usd=services.budget_remaining_usd(key), affinity=services.affinity)
    return DecisionReport.from_decision(decision)
