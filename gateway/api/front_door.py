"""What a translating front door supplies to the shared completion path (`gateway.api.relay`).

A front door is one client protocol (Anthropic Messages, OpenAI Responses) in front of the one
pipeline: it reads its own credential header, turns its body into the internal chat body, turns
the chat answer or stream back into its own shape, and renders errors its own way. Routing,
admission, dispatch, fallback, the ledger and metrics are the same code as `/v1/chat/completions`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from starlette.responses import Response

from gateway.errors import GatewayError

__all__ = ["Exchange", "FrontDoor", "close_quietly"]


class Exchange(Protocol):
    """One request's translation state, from `FrontDoor.open` to its answer."""

    chat: dict[str, Any]  # the internal chat-completions body routed and dispatched
    input_tokens: int  # routing's prompt estimate, set before the answer is translated

    async def complete(self, content: bytes) -> bytes:
        """The client's body for a non-streamed chat completion `content`."""
        ...

    def stream(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The client's stream for dispatch's relayed chat stream; closes `events` when done."""
        ...


class FrontDoor(Protocol):
    """One client protocol served through the shared path."""

    protocol: str  # recorded on every ledger record of its requests

    def credential(self, headers: Mapping[str, str]) -> str | None:
        """The caller's key as an `Authorization: Bearer` value (what `GatewayServices.authenticate` reads)."""
        ...

    async def open(self, body: dict[str, Any], request_id: str) -> Exchange:
        """Translate the client's body; raises InvalidRequestError (and NotFoundError) in the door's terms."""
        ...

    def error_response(self, exc: GatewayError) -> Response:
        """`exc` in the protocol's error shape and status, with its headers."""
        ...


async def close_quietly(events: AsyncIterator[bytes]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
