"""Server-sent events from an upstream, normalised for the client.

Each `data:` payload is parsed once (orjson, about a microsecond) and re-serialised only when it
must change: vLLM's `reasoning` renamed to `reasoning_content`, or the usage the client did not
ask for removed. Every other byte passes through untouched.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from backends.base import UpstreamStream
from backends.errors import UpstreamError, UpstreamMidstreamError, UpstreamServerError
from backends.usage import parse_usage

__all__ = ["SseNormaliser", "normalised_events", "rename_reasoning", "DONE_EVENT"]

DONE_EVENT = b"data: [DONE]\n\n"
_REASONING_KEY = b'"reasoning":'
_CONTENT_KEYS = ("content", "reasoning_content", "tool_calls", "function_call")


def rename_reasoning(message: dict[str, Any]) -> bool:
    """Move vLLM's newer `reasoning` field to `reasoning_content` in a message or delta."""
    if "reasoning" not in message:
        return False
    reasoning = message.pop("reasoning")
    if message.get("reasoning_content") is None:
        message["reasoning_content"] = reasoning
    return True


def _error_message(obj: dict[str, Any]) -> str:
    error = obj.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


class SseNormaliser:
    """State of one stream: usage seen, content started, finish seen, [DONE] seen."""

    __slots__ = ("client_wants_usage", "stream", "content_started", "finished", "done")

    def __init__(self, stream: UpstreamStream, *, client_wants_usage: bool) -> None:
        self.stream = stream
        self.client_wants_usage = client_wants_usage
        self.content_started = False
        self.finished = False
        self.done = False

    def feed_event(self, event: bytes) -> bytes | None:
        """One SSE event (without its blank line) -> the bytes to send on, or None to drop it."""
        data = b""
        for line in event.split(b"\n"):
            if line.startswith(b"data:"):
                data = line[5:].strip() if not data else data + b"\n" + line[5:].strip()
        if not data:
            return None  # comment or keep-alive
        if data == b"[DONE]":
            self.done = True
            return None
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamServerError(f"upstream sent malformed SSE data: {data[:80]!r}") from exc
        if not isinstance(obj, dict):
            raise UpstreamServerError("upstream sent an SSE event that is not a JSON object")
        choices = obj.get("choices")
        if obj.get("error") and not choices:
            raise UpstreamServerError(f"upstream sent an error event: {_error_message(obj)}")
        rewrite = False
        raw_usage = obj.get("usage")
        if raw_usage:
            self.stream.usage = parse_usage(raw_usage)
            if not self.client_wants_usage:
                if not choices:
                    return None
                del obj["usage"]
                rewrite = True
        if choices:
            for choice in choices:
                delta = choice.get("delta") or {}
                if _REASONING_KEY in data and rename_reasoning(delta):
                    rewrite = True
                if choice.get("finish_reason") is not None:
                    self.finished = True
                    self.content_started = True
                elif not self.content_started and (choice.get("text") or any(delta.get(k) for k in _CONTENT_KEYS)):
                    self.content_started = True
        else:
            self.content_started = True  # usage-only chunk: the answer is over
        if rewrite:
            data = orjson.dumps(obj)
        return b"data: " + data + b"\n\n"


async def normalised_events(
    chunks: AsyncIterator[bytes], normaliser: SseNormaliser, *, total_s: float
) -> AsyncIterator[bytes]:
    """Split raw upstream bytes into events, hold them back until the first content, relay the rest.

    Raises `UpstreamError` before the first yield (safe to retry) and `UpstreamMidstreamError` after.
    """
    deadline = time.monotonic() + total_s
    buffer = b""
    pending: list[bytes] = []
    sent_any = False
    try:
        async for chunk in chunks:
            buffer += chunk
            if b"\r" in buffer:
                buffer = buffer.replace(b"\r\n", b"\n")
            out: list[bytes] = []
            failure: UpstreamError | None = None
            try:
                while (end := buffer.find(b"\n\n")) >= 0:
                    event = normaliser.feed_event(buffer[:end])
                    buffer = buffer[end + 2 :]
                    if event is not None:
                        out.append(event)
            except UpstreamError as exc:
                failure = exc  # relay what came before it first
            if out:
                if sent_any:
                    yield b"".join(out)
                elif normaliser.content_started:
                    sent_any = True
                    yield b"".join(pending + out)
                    pending.clear()
                else:
                    pending.extend(out)
            if failure is not None:
                raise failure
            if time.monotonic() > deadline:
                raise UpstreamServerError(f"upstream stream exceeded its total time of {total_s:g} s")
        if buffer.strip():
            event = normaliser.feed_event(buffer.strip())
            if event is not None:
                pending.append(event)
        if not (normaliser.done or normaliser.finished):
            raise UpstreamServerError("upstream closed the stream before it finished")
    except UpstreamError as exc:
        if sent_any:
            raise UpstreamMidstreamError(exc.message, upstream_status=exc.upstream_status) from exc
        raise
    pending.append(DONE_EVENT)
    yield b"".join(pending)
