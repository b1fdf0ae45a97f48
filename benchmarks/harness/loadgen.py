"""Bounded load over raw HTTP/1.1 keep-alive connections on loopback, one connection per client.

A raw asyncio protocol on uvloop, not httpx: the generator shares two cores with the upstream and
the proxy under test, so every microsecond it spends is taken from them. Measured on this machine
against the minimal upstream (benchmarks/harness/upstream.py), 32 clients, non-streaming: see
"## Benchmarks" in README.md for the figures (the raw client needs many times less client CPU
per request than httpx.AsyncClient). Requests are built once as bytes; responses are parsed only
as far as HTTP framing needs (status, Content-Length or chunked) plus one cheap success check.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson

from benchmarks.harness.http1 import content_length

__all__ = ["CHAT_OUTPUT_TOKENS", "LoadResult", "Target", "chat_body", "messages_body", "responses_body", "run_load"]

DEFAULT_REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
_TAIL_BYTES = 4096  # of a streamed body: enough for the Responses API's last event, which holds the whole response
CHAT_OUTPUT_TOKENS = 20  # the upstream answers with this many tokens: 20 chunks when streamed


def chat_body(model: str, stream: bool, max_tokens: int = CHAT_OUTPUT_TOKENS) -> bytes:
    """A short chat completion request, as the benchmarks send it."""
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": max_tokens}
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def messages_body(model: str, stream: bool, max_tokens: int = CHAT_OUTPUT_TOKENS) -> bytes:
    """The same request as `chat_body`, in the Anthropic Messages API's shape (`POST /v1/messages`)."""
    body: dict[str, object] = {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "Say hello."}]}
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def responses_body(model: str, stream: bool, max_tokens: int = CHAT_OUTPUT_TOKENS) -> bytes:
    """The same request as `chat_body`, in the OpenAI Responses API's shape (`POST /v1/responses`)."""
    body: dict[str, object] = {"model": model, "input": "Say hello.", "max_output_tokens": max_tokens}
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go: a loopback port, a path, extra headers (e.g. Authorization), and what marks a
    complete answer: bytes one of which ends a stream, bytes in a whole body."""

    host: str
    port: int
    path: str = "/v1/chat/completions"
    headers: tuple[tuple[str, str], ...] = ()
    stream_end: tuple[bytes, ...] = (b"[DONE]",)  # any of these
    body_marker: bytes = b'"choices"'

    def post_bytes(self, body: bytes) -> bytes:
        """One complete POST request with a JSON body, ready to write on a keep-alive connection."""
        lines = [
            f"POST {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Content-Type: application/json",
            "Accept: */*", f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in self.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(slots=True)
class LoadResult:
    """What one bounded run (or several merged) measured."""

    latencies_s: list[float] = field(default_factory=list)
    first_chunk_s: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    status_counts: Counter[int] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def completed(self) -> int:
        return self.ok + self.errors

    @property
    def rps(self) -> float:
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def merge(self, other: LoadResult) -> None:
        self.latencies_s += other.latencies_s
        self.first_chunk_s += other.first_chunk_s
        self.ok += other.ok
        self.errors += other.errors
        self.error_kinds.update(other.error_kinds)
        self.status_counts.update(other.status_counts)
        self.elapsed_s += other.elapsed_s
        self.client_cpu_s += other.client_cpu_s


class _Budget:
    """Shared request count and deadline of one run."""

    def __init__(self, requests: int, duration_s: float, clients: int) -> None:
        self.remaining = requests
        self.duration_s = duration_s
        self.deadline = float("inf")
        self.start = asyncio.Event()
        self.unready_clients = clients
        self.all_ready = asyncio.Event()

    def client_ready(self) -> None:
        self.unready_clients -= 1
        if self.unready_clients <= 0:
            self.all_ready.set()

    def begin(self) -> None:
        self.deadline = time.perf_counter() + self.duration_s
        self.start.set()

    def take(self) -> bool:
        if self.remaining <= 0 or time.perf_counter() >= self.deadline:
            return False
        self.remaining -= 1
        return True


class _BadResponse(Exception):
    """The response was framed correctly but is not a success (non-200, error body, cut stream)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(slots=True)
class _Response:
    status: int
    first_chunk_s: float
    body: bytes  # the whole body, or only its tail for a streamed one
    reusable: bool


class _ResponseReader(asyncio.Protocol):
    """One keep-alive client connection; parses each response incrementally as bytes arrive.

    A protocol rather than asyncio streams: a streamed answer arrives as dozens of small chunks,
    and waking a coroutine per chunk would cost the generator more CPU than the parsing itself.
    """

    def __init__(self, keep_tail_only: bool) -> None:
        self.keep_tail_only = keep_tail_only
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[_Response] | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.mode = "head"  # head -> length | chunked | eof
        self.remaining = 0
        self.reusable = True
        self.first_chunk_s = 0.0
        self.body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            if self.mode == "eof":
                self._finish()
            else:
                self.waiter.set_exception(ConnectionResetError("connection closed mid-response"))

    def send(self, request: bytes) -> asyncio.Future[_Response]:
        if self.transport is None:
            raise ConnectionResetError("connection already closed")
        self._reset()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            self._parse()
        except ValueError as exc:  # unparseable framing: fail this request, drop the connection
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(exc)
            self.close()

    def _parse(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        if self.mode == "head":
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[: end + 2]).lower()
            del self.buffer[: end + 4]
            self.status = int(head[9:12])
            self.reusable = b"\r\nconnection: close" not in head
            if b"\r\ntransfer-encoding: chunked" in head:
                self.mode = "chunked"
            else:
                length = content_length(head)
                self.mode, self.remaining = ("eof", 0) if length is None else ("length", length)
        if self.mode == "length":
            if len(self.buffer) >= self.remaining:
                self.body = self.buffer[: self.remaining]
                del self.buffer[: self.remaining]
                self.first_chunk_s = time.perf_counter()
                self._finish()
        elif self.mode == "chunked":
            self._parse_chunks()
        elif self.mode == "eof":
            self.body += self.buffer
            self.buffer.clear()

    def _parse_chunks(self) -> None:
        while True:
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            size = int(bytes(self.buffer[:line_end]).split(b";", 1)[0], 16)
            if size == 0:
                trailers_end = self.buffer.find(b"\r\n\r\n", line_end) if self.buffer[line_end + 2 : line_end + 4] != b"\r\n" else line_end
                if trailers_end < 0:
                    return
                del self.buffer[: trailers_end + 4]
                self._finish()
                return
            chunk_end = line_end + 2 + size
            if len(self.buffer) < chunk_end + 2:
                return
            if not self.first_chunk_s:
                self.first_chunk_s = time.perf_counter()
            self.body += self.buffer[line_end + 2 : chunk_end]
            if self.keep_tail_only:
                del self.body[:-_TAIL_BYTES]
            del self.buffer[: chunk_end + 2]

    def _finish(self) -> None:
        self.mode = "done"
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(_Response(self.status, self.first_chunk_s or time.perf_counter(), bytes(self.body), self.reusable))


def _check(response: _Response, stream: bool, target: Target) -> None:
    if response.status != 200:
        raise _BadResponse(f"http_{response.status}")
    if stream:
        if not any(end in response.body for end in target.stream_end):
            raise _BadResponse("stream_without_done")
    elif target.body_marker not in response.body:
        raise _BadResponse("body_without_choices")


async def _connect(target: Target, stream: bool) -> _ResponseReader:
    _, protocol = await asyncio.get_running_loop().create_connection(lambda: _ResponseReader(stream), target.host, target.port)
    return protocol


async def _client(target: Target, request: bytes, stream: bool, budget: _Budget, result: LoadResult, timeout_s: float) -> None:
    connection: _ResponseReader | None = None
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            connection = await _connect(target, stream)
    except (OSError, TimeoutError):
        pass  # retried, and counted if it fails again, on the first request below
    budget.client_ready()
    await budget.start.wait()
    while budget.take():
        started_s = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                if connection is None or connection.transport is None:
                    connection = await _connect(target, stream)
                response = await connection.send(request)
            result.status_counts[response.status] += 1
            _check(response, stream, target)
        except _BadResponse as exc:
            result.errors += 1
            result.error_kinds[exc.kind] += 1
            if not response.reusable:
                connection.close()
            continue
        except (OSError, TimeoutError, ValueError) as exc:
            result.errors += 1
            result.error_kinds[type(exc).__name__] += 1
            if connection is not None:
                connection.close()
            connection = None
            continue
        result.ok += 1
        result.latencies_s.append(time.perf_counter() - started_s)
        if stream:
            result.first_chunk_s.append(response.first_chunk_s - started_s)
        if not response.reusable:
            connection.close()
    if connection is not None:
        connection.close()


async def run_load(
    target: Target, body: bytes, *, stream: bool, concurrency: int, requests: int, duration_s: float,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
) -> LoadResult:
    """`concurrency` clients send `body` back to back until `requests` are done or `duration_s` is up.

    Connections are opened before the clock starts, so connect time is not in the latencies.
    """
    result = LoadResult()
    client_count = max(1, min(concurrency, requests))  # more clients than requests would only sit idle
    budget = _Budget(requests, duration_s, client_count)
    request = target.post_bytes(body)
    clients = [asyncio.create_task(_client(target, request, stream, budget, result, request_timeout_s)) for _ in range(client_count)]
    try:
        await asyncio.wait_for(budget.all_ready.wait(), CONNECT_TIMEOUT_S)
    except TimeoutError:
        pass  # a client still connecting counts its failure as an error once the run starts
    cpu_before_s = time.process_time()
    started_s = time.perf_counter()
    budget.begin()
    await asyncio.gather(*clients)
    result.elapsed_s = time.perf_counter() - started_s
    result.client_cpu_s = time.process_time() - cpu_before_s
    return result
