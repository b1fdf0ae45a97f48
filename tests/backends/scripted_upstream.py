"""A scripted HTTP/1.1 upstream on a real loopback socket, for the backend client tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["OK_BODY", "Reply", "ScriptedUpstream", "always", "fixed_answer"]

Reply = Callable[[asyncio.StreamWriter, int], Awaitable[None]]
OK_BODY = b'{"choices":[]}'


def fixed_answer(body: bytes = OK_BODY, extra: bytes = b"") -> bytes:
    """A 200 answer with a content-length body (`extra`: more header lines)."""
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body


class ScriptedUpstream:
    """Reads each request (head + content-length body) and lets `reply` answer it."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedUpstream:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                await self.reply(writer, len(self.requests) - 1)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


def always(answer: bytes) -> Reply:
    """A reply that sends the same bytes to every request."""

    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        writer.write(answer)
        await writer.drain()

    return reply
