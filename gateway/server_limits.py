"""Limits the HTTP server enforces below the app: header size, request read deadline, shutdown grace.

uvicorn's httptools protocol buffers a request head of any size and waits for a slow client
forever (its keep-alive timer runs only between requests). `bounded_httptools_protocol` closes
both holes: a head over `max_header_bytes` gets a 431, a request whose head and body have not
fully arrived `request_read_timeout_s` after its first byte (or after the connection opened)
gets a 408; either way the connection is closed. Answers are OpenAI's error JSON.
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.errors import CliError, error_body

__all__ = ["ServerLimits", "load_server_limits", "bounded_httptools_protocol", "exit_zero_after_sigterm"]

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class ServerLimits(BaseSettings):
    """`SWITCHYARD_REQUEST_READ_TIMEOUT_S` and `SWITCHYARD_SHUTDOWN_GRACE_S` (besides `GatewaySettings`)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHYARD_", extra="ignore")

    request_read_timeout_s: float = Field(30.0, gt=0, description="A request's head and body must arrive within this.")
    shutdown_grace_s: float = Field(30.0, ge=0, description="On SIGTERM, in-flight responses get this long to finish.")


def load_server_limits() -> ServerLimits:
    """The limits from the environment; a bad value is a CliError naming the variable."""
    try:
        return ServerLimits()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CliError(f"setting SWITCHYARD_{str(first['loc'][0]).upper()}: {first['msg']}") from None


def _exit_zero(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def exit_zero_after_sigterm() -> None:
    """Make SIGTERM end the process with status 0 once uvicorn's graceful shutdown is done.

    uvicorn handles SIGTERM itself while it serves, then re-raises the signal to whatever handler
    was there before; with the default one the process would die with -15 after a clean shutdown.
    """
    signal.signal(signal.SIGTERM, _exit_zero)


class _Rejected(Exception):
    """Stops the parser after the connection was answered and closed."""


def _answer(status: int, message: str, code: str) -> bytes:
    body = error_body(message, "invalid_request_error", None, code)
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status, _REASONS[status], len(body))
    )
    return head + body


class _BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head-size limit and a read deadline per request."""

    max_header_bytes = 64 * 1024
    request_read_timeout_s = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between a request's first byte (or the connection) and its complete head
        self._head_bytes = 0
        self._rejected = False
        self._read_deadline: asyncio.TimerHandle | None = None

    # --- the deadline -------------------------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(self.request_read_timeout_s, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # the app answered already; just stop waiting for the rest
            return
        self._reject(408, f"the request did not arrive within {self.request_read_timeout_s:g} s", "request_timeout")

    def _reject(self, status: int, message: str, code: str) -> None:
        if self._rejected or self.transport.is_closing():
            return
        self._rejected = True
        self._disarm()
        self.transport.write(_answer(status, message, code))
        self.transport.close()

    # --- uvicorn's hooks ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is a slow client too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_header_bytes:  # the head is still incomplete
            self._reject(431, f"request headers exceed {self.max_header_bytes} bytes", "headers_too_large")

    def send_400_response(self, msg: str) -> None:
        if not self._rejected:  # after a rejection the parser's own complaint would follow ours
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        if self._read_deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        size = len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
        if size > self.max_header_bytes:
            self._reject(431, f"request headers exceed {self.max_header_bytes} bytes", "headers_too_large")
            raise _Rejected()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head, self._head_bytes = True, 0
        super().on_message_complete()


def bounded_httptools_protocol(*, max_header_bytes: int, request_read_timeout_s: float) -> type[HttpToolsProtocol]:
    """The protocol class to pass to uvicorn as `http=`."""
    return type(
        "BoundedHttpToolsProtocol", (_BoundedHttpToolsProtocol,),
        {"max_header_bytes": max_header_bytes, "request_read_timeout_s": request_read_timeout_s},
    )
