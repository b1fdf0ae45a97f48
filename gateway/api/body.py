"""Reading and checking request bodies without validating every field of them.

Only what routing and dispatch rely on is checked (types of `model`, `messages`, `stream`,
`n`, token limits); every other parameter passes through untouched for the upstream to judge.
The pydantic models in `gateway.api.schemas` describe the same bodies for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from gateway.errors import GatewayError, HeadersTooLargeError, InvalidRequestError, PayloadTooLargeError

__all__ = ["read_json_body", "check_chat_body", "check_completions_body", "ClientClosedRequestError"]


class ClientClosedRequestError(GatewayError):
    """The client went away before its body arrived (nginx's 499); nobody is left to read the answer."""

    status = 499
    type = "invalid_request_error"
    code = "client_closed_request"

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


async def read_json_body(request: Request, *, max_body_bytes: int, max_header_bytes: int) -> dict[str, Any]:
    """The body as a dict; 413 over the limit, 400 when it is not a JSON object."""
    if sum(len(k) + len(v) for k, v in request.scope["headers"]) > max_header_bytes:
        raise HeadersTooLargeError(f"request headers exceed {max_header_bytes} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
        raise PayloadTooLargeError(f"request body of {declared} bytes exceeds the limit of {max_body_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise PayloadTooLargeError(f"request body exceeds the limit of {max_body_bytes} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # also what a read deadline (gateway.server_limits) looks like from here
        raise ClientClosedRequestError("the client closed the connection before its request body arrived") from None
    raw = b"".join(chunks)
    if not raw.strip():
        raise InvalidRequestError("the request body is empty; expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    return body


def _positive_int(body: dict[str, Any], name: str, upper: int | None = None) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (upper is not None and value > upper):
        bound = f" between 1 and {upper}" if upper else " of at least 1"
        raise InvalidRequestError(f"'{name}' must be an integer{bound}, got {value!r}", param=name)


def _common(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("'model' is required and must be a non-empty string", param="model")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError(f"'stream' must be a boolean, got {stream!r}", param="stream")
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise InvalidRequestError("'stream_options' must be an object", param="stream_options")
        if not stream:
            raise InvalidRequestError("'stream_options' is only allowed when 'stream' is true", param="stream_options")
    _positive_int(body, "n", 128)
    _positive_int(body, "max_tokens")
    _positive_int(body, "max_completion_tokens")


def check_chat_body(body: dict[str, Any], *, max_messages: int) -> None:
    """400 for a chat body the gateway cannot route or relay."""
    _common(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("'messages' is required and must be a non-empty array", param="messages")
    if len(messages) > max_messages:
        raise InvalidRequestError(f"'messages' has {len(messages)} items; the limit is {max_messages}", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise InvalidRequestError(
                f"messages[{index}] must be an object with a 'role' of {', '.join(sorted(_ROLES))}", param=f"messages[{index}]"
            )
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise InvalidRequestError("'tools' must be an array", param="tools")


def check_completions_body(body: dict[str, Any]) -> None:
    """400 for a legacy completions body the gateway cannot route or relay."""
    _common(body)
    prompt = body.get("prompt")
    if not isinstance(prompt, (str, list)) or not prompt:
        raise InvalidRequestError("'prompt' is required and must be a non-empty string or array", param="prompt")
