"""`POST /v1/messages` and `POST /v1/messages/count_tokens`: the Anthropic Messages API front door.

Translation lives in `gateway.protocols.anthropic_messages`; this module wires it to the shared
completion path (`gateway.api.relay`) and answers errors in Anthropic's shape. The key comes as
`x-api-key` (the SDK's default) or `Authorization: Bearer` (Claude Code's `ANTHROPIC_AUTH_TOKEN`);
the same client keys, budgets and rate limits apply as on the OpenAI endpoints.
`anthropic-version` and `anthropic-beta` are accepted; no backend is spoken to in Anthropic's
protocol (every request is translated to chat completions), so they are not passed on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.api.body import read_json_body
from gateway.api.front_door import close_quietly
from gateway.api.relay import new_request_id
from gateway.errors import GatewayError, InternalError, NotFoundError
from gateway.protocols import anthropic_messages as am
from gateway.runtime import GatewayRuntime
from gateway.services import GatewayServices
from gateway.settings import GatewaySettings
from policies.model_aliases import alias_table
from policies.token_estimate import count_prompt_chars, shared_estimator

__all__ = ["PROTOCOL", "AnthropicDoor", "CountTokensEndpoint"]

PROTOCOL = "anthropic-messages"
log = logging.getLogger("switchyard.gateway")


class _AnthropicExchange:
    __slots__ = ("chat", "input_tokens", "message_id", "model")

    def __init__(self, chat: dict[str, Any], message_id: str, model: str) -> None:
        self.chat = chat
        self.input_tokens = 0
        self.message_id = message_id
        self.model = model

    async def complete(self, content: bytes) -> bytes:
        return am.message_from_chat(content, message_id=self.message_id, model=self.model, input_estimate=self.input_tokens)

    async def stream(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        translator = am.AnthropicStream(message_id=self.message_id, model=self.model, input_estimate=self.input_tokens)
        try:
            async for chunk in events:
                out = translator.feed(chunk)
                if out:
                    yield out
        finally:
            await close_quietly(events)


def _credential(headers: Mapping[str, str]) -> str | None:
    api_key = headers.get("x-api-key")
    return f"Bearer {api_key}" if api_key else headers.get("authorization")


def error_response(exc: GatewayError) -> Response:
    status, kind = am.error_status_and_type(exc)
    return Response(am.error_body(kind, exc.message), status_code=status, media_type="application/json", headers=exc.headers)


class AnthropicDoor:
    """The Messages API as a front door of the shared completion path."""

    protocol = PROTOCOL

    def credential(self, headers: Mapping[str, str]) -> str | None:
        return _credential(headers)

    async def open(self, body: dict[str, Any], request_id: str) -> _AnthropicExchange:
        return _AnthropicExchange(am.to_chat(body), f"msg_{request_id[4:]}", str(body.get("model")))

    def error_response(self, exc: GatewayError) -> Response:
        return error_response(exc)


class CountTokensEndpoint:
    """`POST /v1/messages/count_tokens`: the prompt estimate routing uses (no backend is called, nothing is billed).

    The estimate is characters over a ratio learned from upstream usage (policies.token_estimate),
    so it tracks the backends' real counts as traffic flows.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        state = request.app.state
        settings: GatewaySettings = state.settings
        services: GatewayServices = state.services
        runtime: GatewayRuntime = state.runtime
        try:
            services.authenticate(_credential(request.headers))
            body = await read_json_body(request, max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes)
            chat = am.to_chat_messages(body)
            model = chat.get("model")
            if not isinstance(model, str) or alias_table(runtime.policy).resolve(model) is None:
                raise NotFoundError(f"model: {model}", param="model", code="model_not_found")
            chars, messages = count_prompt_chars(chat)
            response = Response(b'{"input_tokens":%d}' % shared_estimator.estimate(chars, messages), media_type="application/json",
                                headers={"x-switchyard-request-id": new_request_id()})
        except GatewayError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = error_response(InternalError("The gateway hit an internal error; it has been logged."))
        await response(scope, receive, send)
