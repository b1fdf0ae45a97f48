"""The internal stream read back: dispatch's normalised chat-completions SSE bytes as a few delta kinds.

Both translating front doors (Anthropic Messages, OpenAI Responses) turn the same relayed bytes
into their own events; this module is the one place that reads them. Each relayed chunk holds
whole `data: {...}` events (backends.sse), possibly several, then `data: [DONE]`, or dispatch's
`event: error` after a mid-stream failure. Only choice 0 is read: the front doors never ask for
`n` > 1. Every chunk is parsed once (orjson); nothing is re-serialised here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from backends.usage import Usage, parse_usage

__all__ = ["REASONING", "TEXT", "TOOL_START", "TOOL_ARGS", "FINISH", "USAGE", "ERROR", "DONE", "chat_deltas"]

REASONING = 0  # (REASONING, text)
TEXT = 1  # (TEXT, text)
TOOL_START = 2  # (TOOL_START, tool index, call id or "", function name)
TOOL_ARGS = 3  # (TOOL_ARGS, tool index, arguments fragment)
FINISH = 4  # (FINISH, finish_reason)
USAGE = 5  # (USAGE, Usage)
ERROR = 6  # (ERROR, message)
DONE = 7  # (DONE,)

_DATA = b"data: "
_DONE = b"data: [DONE]"
_ERROR = b"event: error"


def _error_message(raw: bytes) -> str:
    try:
        error = orjson.loads(raw.partition(_DATA)[2]).get("error") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return "the upstream stream failed"
    return str(error.get("message") or "the upstream stream failed") if isinstance(error, dict) else str(error)


def _choice_deltas(choice: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    delta = choice.get("delta")
    if delta:
        reasoning = delta.get("reasoning_content")
        if reasoning:
            yield REASONING, reasoning
        content = delta.get("content")
        if content:
            yield TEXT, content
        for call in delta.get("tool_calls") or ():
            index = call.get("index", 0)
            function = call.get("function") or {}
            if call.get("id") or function.get("name"):
                yield TOOL_START, index, call.get("id") or "", function.get("name") or ""
            arguments = function.get("arguments")
            if arguments:
                yield TOOL_ARGS, index, arguments
    finish = choice.get("finish_reason")
    if finish:
        yield FINISH, finish


def chat_deltas(chunk: bytes) -> Iterator[tuple[Any, ...]]:
    """The deltas of one relayed chunk, in order."""
    for raw in chunk.split(b"\n\n"):
        if not raw:
            continue
        if raw.startswith(_DATA):
            if raw == _DONE:
                yield (DONE,)
                continue
            event = orjson.loads(raw[6:])
            for choice in event.get("choices") or ():
                if choice.get("index", 0) == 0:
                    yield from _choice_deltas(choice)
            usage: Usage | None = parse_usage(event.get("usage")) if event.get("usage") else None
            if usage is not None:
                yield USAGE, usage
        elif raw.startswith(_ERROR):
            yield ERROR, _error_message(raw)
