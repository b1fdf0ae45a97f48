"""The gateway's ASGI app: routers, error handlers, lifespan, and the fast lane for the completion endpoints."""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api import (
    admin, admin_console, admin_keys, admin_planner, chat, completions, explain, health, models, prometheus, responses,
)
from gateway.api.console import console_router
from gateway.api.body import check_chat_body, check_completions_body
from gateway.api.messages import AnthropicDoor, CountTokensEndpoint
from gateway.api.responses import ResponsesDoor
from gateway.api.relay import CompletionEndpoint, gateway_error_response, internal_error_response
from gateway.api.schemas import SCHEMA_COMPONENTS
from gateway.dispatch import Dispatcher
from gateway.errors import GatewayError, InvalidRequestError, MethodNotAllowedError, NotFoundError
from gateway.live.jobs import register_live_jobs
from gateway.runtime import GatewayRuntime
from gateway.services import GatewayServices
from gateway.settings import GatewaySettings

__all__ = ["GatewayApp", "create_app"]

log = logging.getLogger("switchyard.gateway")


_error_response = gateway_error_response


class GatewayApp(FastAPI):
    """FastAPI, with `fast_routes` (POST path -> ASGI app) served before its middleware, routing and
    dependency injection: the completion endpoints, which handle their own errors in the same shapes."""

    fast_routes: dict[str, ASGIApp]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.fast_routes.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return _error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        error: GatewayError = NotFoundError(f"no route for {request.method} {request.url.path}")
    elif exc.status_code == 405:
        error = MethodNotAllowedError(f"{request.method} is not allowed on {request.url.path}")
    else:
        error = GatewayError(str(exc.detail))
        error.status, error.type = exc.status_code, "invalid_request_error" if exc.status_code < 500 else "server_error"
    response = _error_response(error)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
    return _error_response(InvalidRequestError(f"{param or 'request'}: {first.get('msg', 'invalid')}", param=param))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return internal_error_response()


def create_app(settings: GatewaySettings, runtime: GatewayRuntime, services: GatewayServices | None = None) -> GatewayApp:
    """The gateway app serving `runtime`'s policy, with `services` (built from `settings` when not given)
    for keys, limits, the usage ledger, metrics and the scheduler."""
    services = services or GatewayServices.create(settings)
    services.attach(runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = app.state.scheduler = services.scheduler
        services.start()
        app.state.live = register_live_jobs(scheduler, runtime, settings)  # these run on every replica
        scheduler.start()
        try:
            yield
        finally:
            scheduler.shutdown()
            await app.state.live.aclose()
            await services.aclose()  # records flushed (and drained) before the process exits
            await runtime.aclose()

    app = GatewayApp(title="Switchyard gateway", version="0.1.0", lifespan=lifespan)
    check_chat = functools.partial(check_chat_body, max_messages=settings.max_messages)
    app.fast_routes = {  # every client protocol goes the same way: translate, route, dispatch, account
        "/v1/chat/completions": CompletionEndpoint("/chat/completions", check_chat),
        "/v1/completions": CompletionEndpoint("/completions", check_completions_body, protocol="openai-completions"),
        "/v1/messages": CompletionEndpoint("/chat/completions", check_chat, door=AnthropicDoor()),
        "/v1/messages/count_tokens": CountTokensEndpoint(),
        "/v1/responses": CompletionEndpoint("/chat/completions", check_chat, door=ResponsesDoor(services.responses)),
    }
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.services = services
    app.state.dispatcher = Dispatcher(runtime, durable=services.ledger.commit, decisions=services.decisions,
                                      affinity=services.affinity)
    app.state.live = None  # the live jobs, once the lifespan has started them
    app.state.routing_rng = random.Random(settings.routing_seed)  # every routing draw of this process
    for module in (chat, completions, models, explain, health, admin, admin_console, admin_keys, admin_planner, prometheus,
                   responses):
        app.include_router(module.router)
    app.include_router(console_router())  # the web console at /ui/, its data from the admin endpoints
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default_openapi()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMA_COMPONENTS)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    return app
