"""The chat-completions body a trace record stands for, as the simulator routes it and `replay` sends it."""

from __future__ import annotations

from typing import Any

from planner.trace.record import TraceRecord

__all__ = ["chat_body", "recorded_body"]

_TOOL = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]


def chat_body(record: TraceRecord, model: str, *, content: str = "", max_tokens: int | None = None) -> dict[str, Any]:
    """One user message of `content`; `stream`, thinking (as `reasoning_effort`) and tools as recorded.

    Tools are sent with `tool_choice: none` so an emulated backend answers in text of the recorded length.
    """
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if record.stream:
        body["stream"] = True
    if record.thinking is not None:
        body["reasoning_effort"] = "medium" if record.thinking else "none"
    if record.tools:
        body["tools"] = _TOOL
        body["tool_choice"] = "none"
    return body


def recorded_body(record: TraceRecord, model: str) -> dict[str, Any] | None:
    """The record's own `body` (with `model` filled in when it names none), or None."""
    body = record.body
    if body is None:
        return None
    return body if "model" in body else {**body, "model": model}
