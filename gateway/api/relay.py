"""The shared path of `/v1/chat/completions` and `/v1/completions`: read, route, dispatch, answer."""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from gateway.api.body import read_json_body
from gateway.api.routing import route_request
from gateway.dispatch import Dispatcher, DispatchRequest, OpenedStream
from gateway.errors import GatewayError
from gateway.runtime import GatewayRuntime
from gateway.services import GatewayServices
from gateway.settings import GatewaySettings

__all__ = ["serve_completion", "RelayResponse", "new_request_id"]

_rng = random.Random()  # for weighted routes; seeded per process


def new_request_id() -> str:
    return "req_" + os.urandom(12).hex()


class RelayResponse(StreamingResponse):
    """A streaming response that always closes its source, so a client disconnect closes the upstream
    and the attempt is reported even when the client left before the first byte; then `on_close`."""

    def __init__(self, opened: OpenedStream, *, on_close: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(opened.events, **kwargs)
        self.opened = opened
        self.on_close = on_close

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]
                await self.opened.abandon()
            self.on_close()


async def serve_completion(request: Request, *, path: str, check: Callable[[dict[str, Any]], None]) -> Response:
    """Answer one completion request (streamed or not) with the routing headers."""
    started = time.perf_counter()
    state = request.app.state
    settings: GatewaySettings = state.settings
    runtime: GatewayRuntime = state.runtime
    services: GatewayServices = state.services
    dispatcher: Dispatcher = state.dispatcher
    request_id = new_request_id()
    headers = {"x-switchyard-request-id": request_id}
    admitted = False
    try:
        key = services.authenticate(request.headers.get("authorization"))
        body = await read_json_body(request, max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes)
        check(body)
        features, decision = route_request(
            runtime, body, request.headers, _rng, key_tags=key.tags if key else frozenset(),
            budget_remaining_usd=services.budget_remaining_usd(key),
        )
        headers["x-switchyard-route"] = decision.route or ""
        await services.admit(key, request_id, decision, features, runtime.max_attempts)
        admitted = True
        options = body.get("stream_options")
        dispatch_request = DispatchRequest(
            request_id=request_id, path=path, body=body, decision=decision, started=started,
            stream=body.get("stream") is True,
            client_wants_usage=isinstance(options, dict) and options.get("include_usage") is True,
            key_name=key.name if key else None, input_chars=features.input_chars,
        )
        if dispatch_request.stream:
            opened = await dispatcher.open_stream(dispatch_request)
            services.metrics.observe_overhead(decision.route, opened.overhead_ms)
            headers["x-switchyard-backend"] = opened.backend
            headers["x-switchyard-overhead-ms"] = f"{opened.overhead_ms:.3f}"
            headers["cache-control"] = "no-cache"
            admitted = False  # settled when the stream ends
            return RelayResponse(opened, on_close=lambda: services.settle(request_id),
                                 media_type="text/event-stream", headers=headers)
        call = await dispatcher.complete(dispatch_request)
    except GatewayError as exc:
        exc.headers = {**headers, **exc.headers}
        raise
    finally:
        if admitted:
            services.settle(request_id)
    services.metrics.observe_overhead(decision.route, call.overhead_ms)
    headers["x-switchyard-backend"] = call.backend
    headers["x-switchyard-overhead-ms"] = f"{call.overhead_ms:.3f}"
    headers["x-switchyard-cost-usd"] = "unknown" if call.cost_usd is None else f"{call.cost_usd:.8f}"
    return Response(call.content, media_type="application/json", headers=headers)
