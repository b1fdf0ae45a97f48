"""What every backend adapter is: options in, a tiny interface out (see ARCHITECTURE.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from backends.usage import Usage

__all__ = ["Backend", "BackendOptions", "BackendTimeouts", "UpstreamResponse", "UpstreamStream"]


@dataclass(frozen=True, slots=True)
class BackendTimeouts:
    """Per-backend limits: connecting, waiting for the first token (or a whole non-streamed answer)."""

    connect_s: float = 5.0
    first_token_s: float = 60.0
    total_s: float = 900.0


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """Everything an adapter needs to call one upstream; built from a policy's BackendSpec."""

    name: str
    model: str
    base_url: str | None = None
    api_key: str | None = None
    timeouts: BackendTimeouts = field(default_factory=BackendTimeouts)
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    max_connections: int = 512


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """A complete (non-streamed) upstream answer, already normalised to OpenAI's shape."""

    status: int
    content: bytes
    usage: Usage | None
    model: str | None = None


class UpstreamStream:
    """Normalised SSE bytes of one upstream call.

    Nothing is yielded before the first content (text, reasoning, tool call or finish), so a
    failure up to that point is still safe to retry elsewhere; after it, failures surface as
    `UpstreamMidstreamError`. `usage` is set once the upstream reported it.
    """

    __slots__ = ("usage", "_events")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._events: AsyncIterator[bytes] | None = None

    def attach(self, events: AsyncIterator[bytes]) -> UpstreamStream:
        self._events = events
        return self

    def __aiter__(self) -> UpstreamStream:
        return self

    async def __anext__(self) -> bytes:
        assert self._events is not None
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the upstream connection (used on client disconnect)."""
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()


class Backend(Protocol):
    """One upstream the gateway may call; only `gateway/dispatch.py` calls these."""

    name: str
    type_name: str
    model: str

    def build_body(self, client_body: Mapping[str, Any], *, thinking: bool | None, stream: bool) -> dict[str, Any]:
        """A new upstream body for this backend; never mutates `client_body`."""
        ...

    async def complete(self, body: dict[str, Any], path: str) -> UpstreamResponse:
        """Send a non-streaming request; raise `UpstreamError` on failure."""
        ...

    def stream(self, body: dict[str, Any], path: str, *, client_wants_usage: bool) -> UpstreamStream:
        """Send a streaming request; iterate the result for normalised SSE bytes."""
        ...

    async def aclose(self) -> None:
        """Close pooled connections."""
        ...
