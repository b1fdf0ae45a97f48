"""`GET /metrics`: the gateway's `switchyard_*` metrics in Prometheus text format.

Not behind the admin key, like vLLM's and SGLang's own `/metrics`, so a scraper needs no secret;
labels carry backend, route and key *names*, never keys.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.metrics import GatewayMetrics

__all__ = ["router"]

router = APIRouter()


@router.get("/metrics", tags=["health"], response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format"}})
async def metrics(request: Request) -> Response:
    """Request counts, latency, TTFT and TPOT histograms; tokens and USD; fallbacks; circuits; budgets."""
    registry: GatewayMetrics = request.app.state.services.metrics
    body, content_type = registry.render()
    return Response(body, media_type=content_type)
