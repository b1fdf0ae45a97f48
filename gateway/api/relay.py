"""The shared path of `/v1/chat/completions` and `/v1/completions`: read, route, dispatch, answer.

`CompletionEndpoint` is that path as a bare ASGI app: `create_app` serves the two endpoints with it
in front of FastAPI's middleware, routing and dependency injection (which cost more CPU than the
request's own work, measured with benchmarks/profile_gateway.py); the FastAPI routes in
`gateway.api.chat` and `gateway.api.completions` describe them in the OpenAPI document and serve
them the same way when the app is called past the fast lane. Answers are sent with prebuilt raw
headers, and a stream's `data: [DONE]` goes out in the same write as the end of the body.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from backends.sse import DONE_EVENT
from gateway.api.body import ClientClosedRequestError, read_json_body
from gateway.api.front_door import Exchange, FrontDoor
from gateway.api.routing import route_request
from gateway.dispatch import CompletedCall, Dispatcher, DispatchRequest, OpenedStream
from gateway.errors import GatewayError, InternalError, error_body
from gateway.runtime import GatewayRuntime
from gateway.services import GatewayServices
from gateway.settings import GatewaySettings

__all__ = ["CompletionEndpoint", "RelayResponse", "gateway_error_response", "internal_error_response", "new_request_id",
           "serve_completion"]

log = logging.getLogger("switchyard.gateway")

_ids = random.Random()  # request ids: 96 random bits, no system call per request

_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


def new_request_id() -> str:
    return f"req_{_ids.getrandbits(96):024x}"


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


def gateway_error_response(exc: GatewayError) -> Response:
    """The OpenAI-shaped JSON error for `exc`, with its headers."""
    return Response(exc.body(), status_code=exc.status, media_type="application/json", headers=exc.headers)


def internal_error_response() -> Response:
    """500 without details (they are logged)."""
    return Response(error_body("The gateway hit an internal error; it has been logged.", InternalError.type, None, InternalError.code),
                    status_code=500, media_type="application/json")


class _JsonBytesResponse(Response):
    """A 200 JSON body that is already bytes, with its headers prebuilt (no header parsing or copying)."""

    def __init__(self, content: bytes, headers: dict[str, str]) -> None:
        self.status_code = 200
        self.body = content
        self.background = None
        self.raw_headers = [(b"content-length", str(len(content)).encode()), *_JSON_HEADERS, *_raw(headers)]


class RelayResponse(Response):
    """A relayed SSE stream. The client's disconnect (seen by a watcher on `receive`) cancels the relay;
    the source is always closed, so the upstream is closed and the attempt is reported even when the
    client left before the first byte; then `on_close`. `data: [DONE]` goes out in one write with the end of the body."""

    def __init__(self, opened: OpenedStream, *, on_close: Callable[[], None], headers: dict[str, str]) -> None:
        self.status_code = 200
        self.background = None
        self.opened = opened
        self.on_close = on_close
        self.raw_headers = [*_SSE_HEADERS, *_raw(headers)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relay = asyncio.current_task()
        state = {"done": False, "disconnected": False}
        watcher = asyncio.get_running_loop().create_task(_watch_disconnect(receive, relay, state))
        events = self.opened.events
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in events:
                if chunk.endswith(DONE_EVENT):  # always the last event (gateway.dispatch): end the body with it
                    state["done"] = True
                    await send({"type": "http.response.body", "body": chunk, "more_body": False})
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            state["done"] = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not state["disconnected"] or relay is None:
                raise
            relay.uncancel()  # our own cancellation: the client left, which is not an error
        except OSError:
            pass  # the client's socket failed under us: the same as a disconnect
        finally:
            state["done"] = True
            watcher.cancel()
            with anyio.CancelScope(shield=True):
                await events.aclose()  # type: ignore[attr-defined]
                await self.opened.abandon()
            self.on_close()


async def _watch_disconnect(receive: Receive, relay: asyncio.Task[Any] | None, state: dict[str, bool]) -> None:
    """Cancel `relay` when the client disconnects before the stream is done."""
    while (await receive())["type"] != "http.disconnect":
        pass
    if not state["done"] and relay is not None:
        state["disconnected"] = True
        relay.cancel()


_T = TypeVar("_T")


async def _unless_client_leaves(work: Coroutine[Any, Any, _T], receive: Receive) -> _T:
    """Await `work`, cancelling it if the client disconnects first (the body is read by then, so the next
    `receive()` only returns on disconnect). The dispatcher records a cancelled attempt as
    `client_disconnected`, so the usage ledger still gets its record; raises ClientClosedRequestError.

    `work` runs in this task, not a task of its own: its first attempt is counted in flight
    (`StateStore.attempt_started`) before this handler yields, so a burst of requests routed in one
    turn of the event loop sees each other's load (`prefer: least_loaded`). A watcher task cancels
    this one when the client leaves."""
    handler = asyncio.current_task()
    assert handler is not None
    left = False

    def on_disconnect(watcher: asyncio.Task[None]) -> None:
        nonlocal left
        if not watcher.cancelled():
            left = True
            handler.cancel()

    watcher = asyncio.get_running_loop().create_task(_receive_disconnect(receive))
    watcher.add_done_callback(on_disconnect)
    try:
        return await work
    except asyncio.CancelledError:
        if not left:
            raise  # this handler itself was cancelled (shutdown): the upstream call went with it
        handler.uncancel()
        raise ClientClosedRequestError(
            "the client disconnected before the answer was ready; the upstream call was cancelled") from None
    finally:
        watcher.remove_done_callback(on_disconnect)
        watcher.cancel()


async def _receive_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def serve_completion(request: Request, *, path: str, check: Callable[[dict[str, Any]], None],
                           door: FrontDoor | None = None, protocol: str = "openai-chat") -> Response:
    """Answer one completion request (streamed or not) with the routing headers; raises GatewayError.

    With a `door`, the client speaks another protocol: its body is translated to the chat body that
    `check` then checks and routing reads, and the chat answer is translated back (gateway.api.front_door).
    """
    started = time.perf_counter()
    state = request.app.state
    settings: GatewaySettings = state.settings
    runtime: GatewayRuntime = state.runtime
    services: GatewayServices = state.services
    dispatcher: Dispatcher = state.dispatcher
    request_id = new_request_id()
    headers = {"x-switchyard-request-id": request_id}
    admitted = False
    exchange: Exchange | None = None
    try:
        key = services.authenticate(door.credential(request.headers) if door else request.headers.get("authorization"))
        body = await read_json_body(request, max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes)
        if door is not None:
            exchange = await door.open(body, request_id)
            body, protocol = exchange.chat, door.protocol
        check(body)
        features, decision = await route_request(
            runtime, body, request.headers, request.app.state.routing_rng, key_tags=key.tags if key else frozenset(),
            budget_remaining_usd=services.budget_remaining_usd(key), affinity=services.affinity,
        )
        if exchange is not None:
            exchange.input_tokens = features.input_tokens
        headers["x-switchyard-route"] = decision.route or ""
        await services.admit(key, request_id, decision, features, runtime.max_attempts)
        admitted = True
        options = body.get("stream_options")
        dispatch_request = DispatchRequest(
            request_id=request_id, path=path, body=body, decision=decision, started=started,
            stream=body.get("stream") is True,
            client_wants_usage=exchange is not None or isinstance(options, dict) and options.get("include_usage") is True,
            key_name=key.name if key else None, input_chars=features.input_chars, protocol=protocol,
        )
        if dispatch_request.stream:
            opened = await dispatcher.open_stream(dispatch_request)
            services.metrics.observe_overhead(decision.route, opened.overhead_ms)
            headers["x-switchyard-backend"] = opened.backend
            headers["x-switchyard-overhead-ms"] = f"{opened.overhead_ms:.3f}"
            admitted = False  # settled when the stream ends
            if exchange is not None:
                opened = OpenedStream(events=exchange.stream(opened.events), backend=opened.backend,
                                      overhead_ms=opened.overhead_ms, abandon=opened.abandon)
            return RelayResponse(opened, on_close=lambda: services.settle(request_id), headers=headers)
        call: CompletedCall = await _unless_client_leaves(dispatcher.complete(dispatch_request), request.receive)
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
    content = call.content if exchange is None else await exchange.complete(call.content)
    return _JsonBytesResponse(content, headers)


class CompletionEndpoint:
    """`serve_completion` for one path as a bare ASGI app, with the app's error shapes (see the module docstring),
    or, with a `door`, that protocol's (`gateway.api.front_door`)."""

    def __init__(self, path: str, check: Callable[[dict[str, Any]], None], *, door: FrontDoor | None = None,
                 protocol: str = "openai-chat") -> None:
        self.path = path
        self.check = check
        self.door = door
        self.protocol = protocol

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await serve_completion(Request(scope, receive), path=self.path, check=self.check, door=self.door,
                                              protocol=self.protocol)
        except GatewayError as exc:
            response = gateway_error_response(exc) if self.door is None else self.door.error_response(exc)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = internal_error_response() if self.door is None else self.door.error_response(InternalError(
                "The gateway hit an internal error; it has been logged."))
        await response(scope, receive, send)
