"""The internal stream read back: dispatch's normalised chat-completions SSE bytes as a few delta kinds.

Both translating front doors (Anthropic Messages, OpenAI Responses) turn the same relayed bytes
into their own events; this module is the one place that reads them. Each relayed chunk holds
whole `data: {...}` events (backends.sse), possibly several, then `data: [DONE]`, or dispatch's
`event: error` after a mid-stream failure. Only choice 0 is read: the front doors never ask for
`n` > 1.

Text, reasoning and tool-argument pieces come out as JSON string literals (bytes, quotes included),
ready to be pasted into the protocol's own event. The common event, a delta holding only `content`
or only `reasoning_content`, is not parsed at all: its literal is cut out of the bytes (the
normaliser's events are compact orjson or the upstream's own compact JSON). Any other event is
parsed once with orjson and its strings encoded once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from backends.usage import Usage, parse_usage

__all__ = ["REASONING", "TEXT", "TOOL_START", "TOOL_ARGS", "FINISH", "USAGE", "ERROR", "DONE", "chat_deltas", "decode_literals",
           "matched_stop"]

REASONING = 0  # (REASONING, JSON string literal)
TEXT = 1  # (TEXT, JSON string literal)
TOOL_START = 2  # (TOOL_START, tool index, call id or "", function name)
TOOL_ARGS = 3  # (TOOL_ARGS, tool index, JSON string literal of the arguments fragment)
FINISH = 4  # (FINISH, finish_reason, the stop string that matched or None)
USAGE = 5  # (USAGE, Usage)
ERROR = 6  # (ERROR, message)
DONE = 7  # (DONE,)

_DATA = b"data: "
_DONE = b"data: [DONE]"
_ERROR = b"event: error"
_ONLY = ((b'"delta":{"content":"', TEXT), (b'"delta":{"reasoning_content":"', REASONING))
_BACKSLASH = 0x5C
_CLOSE_BRACE = 0x7D


def _string_end(data: bytes, start: int) -> int:
    """Index of the quote closing the JSON string whose contents begin at `start` (-1 if none)."""
    end = data.find(b'"', start)
    while end > 0 and data[end - 1] == _BACKSLASH:
        before = end - 1
        while data[before] == _BACKSLASH:
            before -= 1
        if (end - 1 - before) % 2 == 0:  # an even run of backslashes escapes itself, not the quote
            break
        end = data.find(b'"', end + 1)
    return end


def _only_delta(event: bytes) -> tuple[int, bytes] | None:
    """(kind, literal) when `event` is one choice whose delta holds only a content or reasoning string and
    which carries nothing else that matters (no finish, usage, tool calls, error); else None."""
    if b'"usage"' in event or b'"tool_calls"' in event or b'"error"' in event or event.count(b'"delta":') != 1:
        return None
    if b'"finish_reason":' in event and b'"finish_reason":null' not in event:
        return None
    for prefix, kind in _ONLY:
        at = event.find(prefix)
        if at >= 0:
            start = at + len(prefix)
            end = _string_end(event, start)
            if end > 0 and event[end + 1] == _CLOSE_BRACE:
                return kind, event[start - 1 : end + 1]
    return None


def decode_literals(literals: list[bytes]) -> str:
    """The text of several JSON string literals, joined (one parse for all of them)."""
    if not literals:
        return ""
    return "".join(orjson.loads(b"[" + b",".join(literals) + b"]"))


def _error_message(raw: bytes) -> str:
    try:
        error = orjson.loads(raw.partition(_DATA)[2]).get("error") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return "the upstream stream failed"
    return str(error.get("message") or "the upstream stream failed") if isinstance(error, dict) else str(error)


def matched_stop(choice: dict[str, Any]) -> str | None:
    """The stop string that ended a choice, where the upstream says: vLLM's `stop_reason` (a string for
    a matched stop string, an int for a stop token id), SGLang's `matched_stop` (the same)."""
    for key in ("stop_reason", "matched_stop"):
        value = choice.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _choice_deltas(choice: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    delta = choice.get("delta")
    if delta:
        reasoning = delta.get("reasoning_content")
        if reasoning:
            yield REASONING, orjson.dumps(reasoning)
        content = delta.get("content")
        if content:
            yield TEXT, orjson.dumps(content)
        for call in delta.get("tool_calls") or ():
            index = call.get("index", 0)
            function = call.get("function") or {}
            if call.get("id") or function.get("name"):
                yield TOOL_START, index, call.get("id") or "", function.get("name") or ""
            arguments = function.get("arguments")
            if arguments:
                yield TOOL_ARGS, index, orjson.dumps(arguments)
    finish = choice.get("finish_reason")
    if finish:
        yield FINISH, finish, matched_stop(choice)


def chat_deltas(chunk: bytes) -> Iterator[tuple[Any, ...]]:
    """The deltas of one relayed chunk, in order."""
    for raw in chunk.split(b"\n\n"):
        if not raw:
            continue
        if raw.startswith(_DATA):
            if raw == _DONE:
                yield (DONE,)
                continue
            quick = _only_delta(raw)
            if quick is not None:
                if len(quick[1]) > 2:  # an empty string is no delta
                    yield quick
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
