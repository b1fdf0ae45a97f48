"""A minimal zero-delay OpenAI-compatible upstream: HTTP/1.1 keep-alive on a raw asyncio protocol.

The benchmarks measure what a proxy adds, so the upstream must cost as little CPU as possible on
the two cores it shares with the proxy and the load generator. Serves `POST /v1/chat/completions`
(streamed as SSE or not; `max_tokens` content tokens, default 20, one per chunk), `GET /v1/models`
and `GET /health`. Answers are built once per (model, stream, tokens, usage) and then reused, so
every request gets the same `id`. Run: `python -m benchmarks.harness.upstream --port P`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from functools import lru_cache

import orjson

from benchmarks.harness.eventloop import run_blocking
from benchmarks.harness.http1 import content_length

__all__ = ["DEFAULT_OUTPUT_TOKENS", "UPSTREAM_MODEL", "answer_bytes", "serve"]

UPSTREAM_MODEL = "bench-upstream"
DEFAULT_OUTPUT_TOKENS = 20
MAX_OUTPUT_TOKENS = 4096
_CREATED = 1_700_000_000
_WORDS = ("the", "gateway", "routes", "each", "request", "to", "a", "backend")


def _response(status: str, content_type: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: " + content_type
        + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _sse(obj: object) -> bytes:
    return _chunk(b"data: " + orjson.dumps(obj) + b"\n\n")


@lru_cache(maxsize=256)
def answer_bytes(model: str, stream: bool, output_tokens: int, prompt_tokens: int, include_usage: bool) -> bytes:
    """The whole HTTP response to one chat completion request."""
    words = [(" " if i else "") + _WORDS[i % len(_WORDS)] for i in range(output_tokens)]
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": output_tokens, "total_tokens": prompt_tokens + output_tokens}
    if not stream:
        message = {"role": "assistant", "content": "".join(words)}
        body = {
            "id": "chatcmpl-bench", "object": "chat.completion", "created": _CREATED, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "length"}], "usage": usage,
        }
        return _response("200 OK", b"application/json", orjson.dumps(body))
    header = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": _CREATED, "model": model}
    parts = [
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n",
        _sse({**header, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}),
    ]
    parts += [_sse({**header, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}) for w in words]
    parts.append(_sse({**header, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}))
    if include_usage:
        parts.append(_sse({**header, "choices": [], "usage": usage}))
    parts += [_chunk(b"data: [DONE]\n\n"), b"0\r\n\r\n"]
    return b"".join(parts)


_HEALTH = _response("200 OK", b"application/json", b'{"status":"ok"}')


def _error(status: str, message: str, kind: str) -> bytes:
    error = {"error": {"message": message, "type": kind, "param": None, "code": int(status.split()[0])}}
    return _response(status, b"application/json", orjson.dumps(error))


_NOT_FOUND = _error("404 Not Found", "Not Found", "not_found_error")
_BAD_REQUEST = _error("400 Bad Request", "the body must be a JSON object with messages", "invalid_request_error")


def _models(model: str) -> bytes:
    card = {"id": model, "object": "model", "created": _CREATED, "owned_by": "switchyard-benchmark"}
    return _response("200 OK", b"application/json", orjson.dumps({"object": "list", "data": [card]}))


def _chat(body: bytes) -> bytes:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _BAD_REQUEST
    if not isinstance(request, dict) or not request.get("messages"):
        return _BAD_REQUEST
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    tokens = min(limit, MAX_OUTPUT_TOKENS) if isinstance(limit, int) and limit > 0 else DEFAULT_OUTPUT_TOKENS
    options = request.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    model = request.get("model") if isinstance(request.get("model"), str) else UPSTREAM_MODEL
    return answer_bytes(model, request.get("stream") is True, tokens, max(1, len(body) // 16), include_usage)


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked request body starting at `start`: (body, end offset), or None while incomplete."""
    body, at = bytearray(), start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";", 1)[0], 16)
        at = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", at - 2)
            return (bytes(body), trailer_end + 4) if trailer_end >= 0 else None
        if len(buffer) < at + size + 2:
            return None
        body += buffer[at : at + size]
        at += size + 2


class _UpstreamProtocol(asyncio.Protocol):
    """One client connection: parse pipelined HTTP/1.1 requests and answer each in order."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and self._answer_one():
            pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _answer_one(self) -> bool:
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return False
        head = bytes(self.buffer[:head_end]).lower()
        body_start = head_end + 4
        if b"\r\ntransfer-encoding: chunked" in head:
            framed = _dechunk(self.buffer, body_start)
            if framed is None:
                return False
            body, end = framed
        else:
            end = body_start + (content_length(head) or 0)
            if len(self.buffer) < end:
                return False
            body = bytes(self.buffer[body_start:end])
        del self.buffer[:end]
        method, _, rest = head.partition(b" ")
        path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        self.transport.write(self._route(method, path, body))
        if b"\r\nconnection: close" in head:
            self.transport.close()
            self.transport = None
        return True

    @staticmethod
    def _route(method: bytes, path: bytes, body: bytes) -> bytes:
        if method == b"post" and path.endswith(b"/chat/completions"):
            return _chat(body)
        if method == b"get" and path in (b"/health", b"/healthz"):
            return _HEALTH
        if method == b"get" and path.endswith(b"/models"):
            return _models(UPSTREAM_MODEL)
        return _NOT_FOUND


async def serve(host: str, port: int) -> None:
    """Listen until cancelled."""
    server = await asyncio.get_running_loop().create_server(_UpstreamProtocol, host, port, backlog=4096, reuse_address=True)
    sys.stderr.write(f"minimal upstream: http://{host}:{port}/v1 (zero delay)\n")
    sys.stderr.flush()
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        run_blocking(lambda: serve(args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
