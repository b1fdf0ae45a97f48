"""Server-sent events from an upstream, normalised for the client.

Until the first content each event's `data:` payload is parsed (orjson) to see where the answer
starts. After it, the bytes are scanned, not parsed: a run of one-line `data: {...}` events with
no usage object, error, `reasoning` field or non-null `finish_reason` in it is passed on as it
came, in one piece; only the events holding one of those are parsed (benchmarks/profile_gateway.py
measured per-event parsing as the largest Python cost of a stream). A parsed event is
re-serialised only when it must change: vLLM's `reasoning` renamed to `reasoning_content`, or the
usage the client did not ask for removed. A payload that does not look like one JSON object is
parsed, so a malformed event still fails the stream.
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
_MAY_MATTER = (b'"usage"', b'"error"', b'"reasoning"', b"[DONE]", b"\r")
_FINISH = b'"finish_reason":'
_NULL_FINISH = (b"null", b" null")
_EVENT_END = b"\n\n"


def _next_event_that_matters(events: bytes, start: int, end: int) -> int:
    """Where in `events[start:end]` (whole events) the first part that must be parsed is; `end` if none."""
    first = end
    for marker in _MAY_MATTER:
        at = events.find(marker, start, first)
        if at >= 0:
            first = at
    at = events.find(_FINISH, start, first)
    while at >= 0:
        value = at + len(_FINISH)
        if not (events.startswith(_NULL_FINISH[0], value) or events.startswith(_NULL_FINISH[1], value)):
            return at
        at = events.find(_FINISH, value, first)
    return first


def _plain_run(run: bytes) -> bool:
    """True when every event of `run` is one line `data: {...}` (so passing it on unparsed is safe)."""
    events = run.count(_EVENT_END)
    return events > 0 and run.count(b"\n") == 2 * events and run.count(b"data: {") == events and run.count(b"}\n\n") == events


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

    def feed(self, buffer: bytes, out: list[bytes]) -> int:
        """Normalise the whole events at the start of `buffer` into `out`; returns how many bytes were used.

        Raises UpstreamError at a bad event; what `out` holds by then came before it.
        """
        last = buffer.rfind(_EVENT_END)
        if last < 0:
            return 0
        start, end = 0, last + 2
        while start < end:
            if self.content_started:
                matters = _next_event_that_matters(buffer, start, end)
                boundary = buffer.rfind(_EVENT_END, start, matters) if matters < end else end - 2
                run_end = boundary + 2 if boundary >= start else start
                if run_end > start and _plain_run(run := buffer[start:run_end]):
                    out.append(run)
                    start = run_end
                    continue
            event_end = buffer.find(_EVENT_END, start)
            event = self.feed_event(buffer[start:event_end])
            start = event_end + 2
            if event is not None:
                out.append(event)
        return max(start, 0)

    def feed_event(self, event: bytes) -> bytes | None:
        """One SSE event (without its blank line) -> the bytes to send on, or None to drop it."""
        if event.startswith(b"data: ") and b"\n" not in event:  # the usual one-line event
            data = event[6:].strip()
        else:
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
                buffer = buffer[normaliser.feed(buffer, out):]
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
