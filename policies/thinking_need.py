"""Whether a request needs thinking (reasoning) mode: True, False (asked off) or None (no say).

Signals, strongest first (design doc "Request features a `when` can test"):
1. header `x-switchyard-thinking: true|false` (the operator's or client's explicit override);
2. body parameters: `reasoning_effort` (anything but `none` is on), `thinking: {type:
   enabled|disabled}`, `chat_template_kwargs: {thinking|enable_thinking: bool}`,
   `enable_thinking: bool`; if they disagree, on wins;
3. the model alias's `thinking`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["THINKING_HEADER", "thinking_need"]

THINKING_HEADER = "x-switchyard-thinking"
_TRUE_WORDS = frozenset({"true", "1", "yes", "on", "enabled"})
_FALSE_WORDS = frozenset({"false", "0", "no", "off", "disabled"})


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def _body_signals(body: Mapping[str, Any]) -> list[bool]:
    signals: list[bool] = []
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort:
        signals.append(effort.strip().lower() != "none")
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping):
        kind = _flag(thinking.get("type"))
        if kind is not None:
            signals.append(kind)
    kwargs = body.get("chat_template_kwargs")
    if isinstance(kwargs, Mapping):
        for key in ("thinking", "enable_thinking"):
            value = _flag(kwargs.get(key))
            if value is not None:
                signals.append(value)
    enable = _flag(body.get("enable_thinking"))
    if enable is not None:
        signals.append(enable)
    return signals


def thinking_need(body: Mapping[str, Any], headers: Mapping[str, str], alias_thinking: bool | None) -> bool | None:
    """The request's thinking need; `headers` must have lower-case names."""
    header = _flag(headers.get(THINKING_HEADER))
    if header is not None:
        return header
    signals = _body_signals(body)
    if signals:
        return any(signals)
    return alias_thinking
