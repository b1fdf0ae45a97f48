"""A minimal HTTP/1.1 keep-alive client for one plain-http upstream, on asyncio protocols + httptools.

Why not httpx here: measured by `benchmarks/upstream_client.py` against a zero-delay upstream,
httpx spends roughly ten times the CPU per request of this client (its per-request model,
header and timeout objects dominate the gateway's own work). This client does only what an
OpenAI-compatible upstream needs: `POST` with a JSON body, a pre-built request head, responses
framed by content-length, chunked transfer-encoding or connection close (httptools decodes the
framing), keep-alive connections in a bounded per-backend pool, a connection reused only after its
response was read to the end, no redirects followed, and failures raised as `backends.errors`.
HTTPS upstreams keep using httpx (see `backends/openai_compat.py`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Mapping

import httptools

from backends.errors import BackendConfigError, UpstreamConnectError, UpstreamServerError, UpstreamTimeoutError

__all__ = ["Http11Pool", "Http11Response", "Http11Stream"]

_PAUSE_AT_BYTES = 256 * 1024  # stop reading a stream the caller does not drain
_MAX_CACHED_PATHS = 16  # request heads kept per pool (the gateway calls a handful of paths)


class Http11Response:
    """A complete answer: status, lower-cased headers, body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Connection(asyncio.Protocol):
    """One keep-alive connection; carries one request/response exchange at a time."""

    def __init__(self, pool: Http11Pool) -> None:
        self._pool = pool
        self._loop = pool._loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self._parser: httptools.HttpResponseParser | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._paused = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.seen_bytes = 0
        self.headers_done = False
        self.message_done = False
        self.keep_alive = False

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # bytes while idle: the server is not speaking HTTP/1.1 keep-alive
            self._fail(UpstreamServerError(f"backend {self._pool.name} sent bytes nobody asked for"))
            return
        self.seen_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamServerError(f"backend {self._pool.name} tried to upgrade the connection"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamServerError(f"backend {self._pool.name} sent a malformed HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if self._parser is None or self.message_done:
            self._wake()
            return
        if self.headers_done and self._reads_until_close():
            self.message_done = True  # a body framed by the connection's end
        elif self._error is None:
            where = "mid-body" if self.headers_done else "before answering"
            reason = f": {exc}" if exc else ""
            self._error = UpstreamServerError(f"backend {self._pool.name} closed the connection {where}{reason}")
        self._wake()

    # --- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()  # type: ignore[union-attr]
        self.headers_done = True
        self._wake()

    def on_body(self, data: bytes) -> None:
        self.body.append(data)
        self.body_bytes += len(data)
        if self.body_bytes > _PAUSE_AT_BYTES and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.message_done = True
        self.keep_alive = self._parser.should_keep_alive()  # type: ignore[union-attr]  # False once this returns
        self._wake()

    # --- used by the pool and the responses ---------------------------------------------------

    def send(self, request: bytes) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self.status, self.headers, self.body, self.body_bytes, self.seen_bytes = 0, {}, [], 0, 0
        self.headers_done = self.message_done = self.keep_alive = False
        self._error = None
        self.transport.write(request)  # type: ignore[union-attr]

    async def wait(self, timeout_s: float) -> None:
        """Until the parser has something new (headers, body, end) or the connection failed."""
        if self._error is not None:
            raise self._error
        waiter = self._loop.create_future()
        self._waiter = waiter
        timer = self._loop.call_later(timeout_s, self._time_out, waiter, timeout_s)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self._error is not None:
            raise self._error

    def take_body(self) -> list[bytes]:
        body, self.body, self.body_bytes = self.body, [], 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return body

    def reusable(self) -> bool:
        return self.keep_alive and not self.closed and self._error is None

    def finish(self) -> None:
        self._parser = None
        self.body = []

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
            self.transport = None

    def _reads_until_close(self) -> bool:
        return "content-length" not in self.headers and "chunked" not in self.headers.get("transfer-encoding", "")

    def _time_out(self, waiter: asyncio.Future[None], timeout_s: float) -> None:
        if not waiter.done():
            stage = "its first byte" if not self.headers_done else "more of its answer"
            waiter.set_exception(UpstreamTimeoutError(f"backend {self._pool.name} timed out waiting {timeout_s:g} s for {stage}"))

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self.abort()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Http11Stream:
    """A response whose body is read as it arrives; iterate it, then (always) `aclose()` it."""

    __slots__ = ("status", "headers", "_pool", "_conn", "_read_timeout_s")

    def __init__(self, pool: Http11Pool, conn: _Connection, read_timeout_s: float) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._read_timeout_s = read_timeout_s
        self.status = conn.status
        self.headers = conn.headers

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        while True:
            if conn.body:
                body = conn.take_body()
                yield body[0] if len(body) == 1 else b"".join(body)
            elif conn.message_done:
                return
            else:
                await conn.wait(self._read_timeout_s)

    async def read(self) -> bytes:
        """The rest of the body."""
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        """Give the connection back (kept alive only if the body was read to its end)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool._release(conn)


class Http11Pool:
    """Keep-alive connections to one `http://host:port`, at most `max_connections` at a time."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        name: str,
        max_connections: int,
        connect_timeout_s: float,
        keepalive_expiry_s: float = 30.0,
    ) -> None:
        scheme, _, rest = base_url.partition("://")
        if scheme != "http":
            raise BackendConfigError(f"backend {name}: the HTTP/1.1 fast path serves http:// only, not {base_url}")
        netloc, slash, base_path = rest.partition("/")
        host, colon, port = netloc.rpartition(":") if netloc.rpartition(":")[2].isdigit() else (netloc, "", "80")
        if not host:
            raise BackendConfigError(f"backend {name}: base_url {base_url} has no host")
        self.name = name
        self._host = host.strip("[]")
        self._port = int(port)
        self._base_path = ("/" + base_path.rstrip("/")) if slash and base_path.strip("/") else ""
        lines = [f"host: {netloc}"]
        for key, value in headers.items():
            if any(c in key + value for c in "\r\n\0"):
                raise BackendConfigError(f"backend {name}: header {key!r} holds a line break")
            lines.append(f"{key}: {value}")
        self._header_block = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        self._heads: dict[str, bytes] = {}
        self._max_connections = max_connections
        self._connect_timeout_s = connect_timeout_s
        self._keepalive_expiry_s = keepalive_expiry_s
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # bound on first use
        self._idle: deque[_Connection] = deque()
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def request(self, path: str, body: bytes, *, timeout_s: float) -> Http11Response:
        """POST `body` (JSON) and read the whole answer within `timeout_s` (connecting aside)."""
        conn = await self._send(path, body, timeout_s)
        try:
            if not conn.message_done:
                deadline = self._loop.time() + timeout_s
                while not conn.message_done:
                    await conn.wait(max(deadline - self._loop.time(), 0.0))
            response = Http11Response(conn.status, conn.headers, b"".join(conn.take_body()))
        except BaseException:
            conn.abort()
            raise
        finally:
            self._release(conn)
        return response

    async def stream(self, path: str, body: bytes, *, read_timeout_s: float) -> Http11Stream:
        """POST `body` and return once the headers arrived; each wait is bounded by `read_timeout_s`."""
        conn = await self._send(path, body, read_timeout_s)
        return Http11Stream(self, conn, read_timeout_s)

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().abort()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(UpstreamConnectError(f"backend {self.name} is closed"))

    @property
    def open_connections(self) -> int:
        """Connections in use or kept alive."""
        return self._open

    # --- internals --------------------------------------------------------------------------

    async def _send(self, path: str, body: bytes, timeout_s: float) -> _Connection:
        """Write the request on a pooled (or new) connection and wait for the response's headers."""
        head = self._heads.get(path)
        if head is None:
            head = f"POST {self._base_path}{path} HTTP/1.1\r\n".encode("latin-1") + self._header_block
            if len(self._heads) < _MAX_CACHED_PATHS:
                self._heads[path] = head
        request = head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        for _attempt in range(2):
            conn = await self._acquire()
            try:
                conn.send(request)
                while not conn.headers_done:
                    await conn.wait(timeout_s)
                return conn
            except UpstreamServerError:
                stale = conn.reused and conn.seen_bytes == 0 and conn.closed
                self._release(conn)
                if not stale:
                    raise
                # a kept-alive connection the server closed as we wrote to it: once more on a new one
            except BaseException:
                conn.abort()
                self._release(conn)
                raise
        raise UpstreamServerError(f"backend {self.name} closed two connections before answering")

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise UpstreamConnectError(f"backend {self.name} is closed")
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self._keepalive_expiry_s:
                conn.reused = True
                return conn
            conn.abort()
            self._open -= 1
        while self._open >= self._max_connections:
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
            if self._idle:
                return await self._acquire()
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, conn = await self._loop.create_connection(lambda: _Connection(self), self._host, self._port)
        except TimeoutError as exc:
            raise UpstreamConnectError(f"backend {self.name} is unreachable: no connection within {self._connect_timeout_s:g} s") from exc
        except OSError as exc:
            raise UpstreamConnectError(f"backend {self.name} is unreachable: {type(exc).__name__}: {exc.strerror or exc}") from exc
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.reusable() and not self._closed:
            conn.finish()
            conn.idle_since = self._loop.time()
            self._idle.append(conn)
        else:
            conn.abort()
            self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
