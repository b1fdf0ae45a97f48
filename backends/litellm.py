"""Providers that do not speak OpenAI's API, reached through `litellm.acompletion`.

litellm takes seconds to import, so it is imported inside the first call, never at start-up and
never on the OpenAI-compatible path. `model` is litellm's provider-prefixed name
(`bedrock/...`, `vertex_ai/...`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import orjson

from backends.base import BackendOptions, UpstreamResponse, UpstreamStream
from backends.errors import (
    UpstreamClientError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from backends.sse import SseNormaliser, normalised_events
from backends.usage import parse_usage

__all__ = ["LiteLLMBackend"]


def _classify(exc: Exception, backend_name: str) -> UpstreamError:
    """Map a litellm exception (they carry `status_code`) to the project's own."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    message = f"backend {backend_name} failed: {name}"
    if "Timeout" in name:
        return UpstreamTimeoutError(message)
    if "Connection" in name:
        return UpstreamConnectError(message)
    if status == 429:
        return UpstreamRateLimitedError(message, upstream_status=429)
    if isinstance(status, int) and 400 <= status < 500:
        return UpstreamClientError(message, status=status, upstream_status=status)
    return UpstreamServerError(message, upstream_status=status if isinstance(status, int) else None)


class LiteLLMBackend:
    """A backend called through litellm's SDK (lazy import)."""

    type_name: ClassVar[str] = "litellm"

    def __init__(self, options: BackendOptions, **_: Any) -> None:
        self.name = options.name
        self.model = options.model
        self.timeouts = options.timeouts
        self._call_kwargs: dict[str, Any] = {"timeout": options.timeouts.total_s}
        if options.base_url:
            self._call_kwargs["api_base"] = options.base_url
        if options.api_key:
            self._call_kwargs["api_key"] = options.api_key

    def build_body(self, client_body: Mapping[str, Any], *, thinking: bool | None, stream: bool) -> dict[str, Any]:
        body = dict(client_body)
        body["model"] = self.model
        if stream:
            body["stream_options"] = {"include_usage": True}
        if thinking is not None:
            body.pop("thinking", None)
            body.pop("enable_thinking", None)
            body["reasoning_effort"] = "medium" if thinking else "none"
        return body

    async def _call(self, body: dict[str, Any]) -> Any:
        import litellm  # noqa: PLC0415 - deliberately lazy, see module docstring

        try:
            return await litellm.acompletion(**body, **self._call_kwargs)
        except Exception as exc:  # litellm raises its own tree; classify at the boundary
            raise _classify(exc, self.name) from exc

    async def complete(self, body: dict[str, Any], path: str) -> UpstreamResponse:
        response = await self._call(body)
        parsed = response.model_dump(exclude_none=True)
        return UpstreamResponse(status=200, content=orjson.dumps(parsed), usage=parse_usage(parsed.get("usage")), model=parsed.get("model"))

    def stream(self, body: dict[str, Any], path: str, *, client_wants_usage: bool) -> UpstreamStream:
        stream = UpstreamStream()
        normaliser = SseNormaliser(stream, client_wants_usage=client_wants_usage)
        return stream.attach(normalised_events(self._chunks(body), normaliser, total_s=self.timeouts.total_s))

    async def _chunks(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        response = await self._call({**body, "stream": True})
        try:
            async for chunk in response:
                yield b"data: " + orjson.dumps(chunk.model_dump(exclude_none=True)) + b"\n\n"
        except UpstreamError:
            raise
        except Exception as exc:
            raise _classify(exc, self.name) from exc
        yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        return None
