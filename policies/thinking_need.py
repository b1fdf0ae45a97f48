"""Whether a request needs thinking (reasoning) mode: True, False (asked off) or None (no say).

Signals, strongest first (design doc "Request features a `when` can test"); the first present
decides, and `ThinkingVerdict.source` names it:
1. `header`: `x-switchyard-thinking: true|false` (the operator's or client's explicit override);
2. `body`: `reasoning_effort` (anything but `none` is on), `thinking: {type:
   enabled|disabled}`, `chat_template_kwargs: {thinking|enable_thinking: bool}`,
   `enable_thinking: bool`; if they disagree, on wins;
3. `model`: the model alias's `thinking: true|false`;
4. `detected`: for an alias with `thinking: auto`, the detector's score
   (`policies.thinking_detector`) against `thinking_detection.threshold`: on at or above it,
   off below. The detector runs only when 1-3 say nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from policies.thinking_detector import thinking_score

__all__ = ["THINKING_HEADER", "ThinkingSource", "ThinkingVerdict", "thinking_need", "thinking_verdict"]

ThinkingSource = Literal["header", "body", "model", "detected"]
DEFAULT_THRESHOLD = 0.5

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


@dataclass(frozen=True, slots=True)
class ThinkingVerdict:
    """The thinking need, which signal decided it, and the detector's score when it did."""

    thinking: bool | None = None
    source: ThinkingSource | None = None
    score: float | None = None  # only when source is "detected"


NO_SAY = ThinkingVerdict()


def thinking_verdict(
    body: Mapping[str, Any], headers: Mapping[str, str], alias_thinking: bool | str | None,
    threshold: float = DEFAULT_THRESHOLD,
) -> ThinkingVerdict:
    """The request's thinking need and its source; `headers` must have lower-case names.

    `alias_thinking` is the model alias's `thinking` (True, False, "auto" or None).
    """
    header = _flag(headers.get(THINKING_HEADER))
    if header is not None:
        return ThinkingVerdict(header, "header")
    signals = _body_signals(body)
    if signals:
        return ThinkingVerdict(any(signals), "body")
    if isinstance(alias_thinking, bool):
        return ThinkingVerdict(alias_thinking, "model")
    if alias_thinking == "auto":
        score = thinking_score(body)
        return ThinkingVerdict(score >= threshold, "detected", score)
    return NO_SAY


def thinking_need(body: Mapping[str, Any], headers: Mapping[str, str], alias_thinking: bool | str | None) -> bool | None:
    """The request's thinking need alone (`thinking_verdict(...).thinking`, default threshold)."""
    return thinking_verdict(body, headers, alias_thinking).thinking
