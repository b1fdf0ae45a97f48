"""`POST /v1/responses` and `GET /v1/responses/{id}`: the OpenAI Responses API front door.

Translation lives in `gateway.protocols.openai_responses`; this module wires it to the shared
completion path and keeps answers asked to be stored (`store`, true unless sent false, as in
OpenAI's API) in the gateway's response store (`gateway.state.response_store`: Redis when
configured, else in-process; kept `SWITCHYARD_RESPONSES_TTL_S`). A stored response carries the
conversation that led to it, so `previous_response_id` continues it. Errors are OpenAI's shape.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gateway.api.auth import require_client_key
from gateway.api.front_door import close_quietly
from gateway.api.relay import gateway_error_response
from gateway.errors import GatewayError, InvalidRequestError, NotFoundError, UpstreamFailedError
from gateway.protocols import openai_responses as orp
from gateway.state.response_store import ResponseStore, ResponseStoreError

__all__ = ["PROTOCOL", "ResponsesDoor", "router"]

PROTOCOL = "openai-responses"
log = logging.getLogger("switchyard.gateway")
router = APIRouter()


def _unavailable(exc: ResponseStoreError) -> UpstreamFailedError:
    return UpstreamFailedError(f"the response store is unavailable: {exc}", status=503, code="response_store_unavailable",
                               retryable=True)


class _ResponsesExchange:
    __slots__ = ("chat", "input_tokens", "skeleton", "history", "store", "responses")

    def __init__(self, chat: dict[str, Any], skeleton: orp.ResponseSkeleton, history: list[dict[str, Any]], *,
                 store: bool, responses: ResponseStore) -> None:
        self.chat = chat
        self.input_tokens = 0
        self.skeleton = skeleton
        self.history = history
        self.store = store
        self.responses = responses

    async def _keep(self, response: dict[str, Any]) -> None:
        if not self.store or response.get("status") == "failed":
            return
        entry = {"response": response, "messages": [*self.history, orp.assistant_message(response["output"])]}
        try:
            await self.responses.put(self.skeleton.response_id, orjson.dumps(entry))
        except ResponseStoreError as exc:  # the answer still goes out; only its continuation is lost
            log.warning("response %s not stored: %s", self.skeleton.response_id, exc)

    async def complete(self, content: bytes) -> bytes:
        response = orp.response_from_chat(content, self.skeleton)
        await self._keep(response)
        return orjson.dumps(response)

    async def stream(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        translator = orp.ResponsesStream(self.skeleton)
        try:
            async for chunk in events:
                out = translator.feed(chunk)
                if translator.response is not None:
                    await self._keep(translator.response)  # stored before the client sees it complete
                if out:
                    yield out
        finally:
            await close_quietly(events)


class ResponsesDoor:
    """The Responses API as a front door of the shared completion path."""

    protocol = PROTOCOL

    def __init__(self, responses: ResponseStore) -> None:
        self.responses = responses

    def credential(self, headers: Mapping[str, str]) -> str | None:
        return headers.get("authorization")

    async def _previous(self, response_id: Any) -> list[dict[str, Any]] | None:
        if response_id is None:
            return None
        if not isinstance(response_id, str) or not response_id:
            raise InvalidRequestError("previous_response_id: expected a string", param="previous_response_id")
        try:
            entry = await self.responses.get(response_id)
        except ResponseStoreError as exc:
            raise _unavailable(exc) from None
        if entry is None:
            raise NotFoundError(f"Previous response with id '{response_id}' not found.", param="previous_response_id",
                                code="previous_response_not_found")
        return orjson.loads(entry)["messages"]

    async def open(self, body: dict[str, Any], request_id: str) -> _ResponsesExchange:
        previous = await self._previous(body.get("previous_response_id"))
        chat, history = orp.to_chat(body, previous)
        skeleton = orp.ResponseSkeleton(body, response_id=f"resp_{request_id[4:]}")
        return _ResponsesExchange(chat, skeleton, history, store=body.get("store", True) is not False, responses=self.responses)

    def error_response(self, exc: GatewayError) -> Response:
        return gateway_error_response(exc)


@router.get("/v1/responses/{response_id}", dependencies=[Depends(require_client_key)], tags=["openai"],
            summary="A stored response (store: true)", responses={404: {"description": "No such stored response"}})
async def get_response(response_id: str, request: Request) -> Response:
    """The response object as it was returned, while it is kept (SWITCHYARD_RESPONSES_TTL_S)."""
    try:
        entry = await request.app.state.services.responses.get(response_id)
    except ResponseStoreError as exc:
        raise _unavailable(exc) from None
    if entry is None:
        raise NotFoundError(f"No response found with id '{response_id}'.", param="response_id")
    return Response(orjson.dumps(orjson.loads(entry)["response"]), media_type="application/json")
