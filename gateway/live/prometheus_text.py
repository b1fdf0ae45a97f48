"""Just enough of the Prometheus text exposition format to read a few gauges off a /metrics page.

Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
(`name{label="value",...} value [timestamp]`; `#` lines are HELP/TYPE comments).
"""

from __future__ import annotations

import math
from collections.abc import Collection

__all__ = ["read_samples"]

_SPECIAL = {"+Inf": math.inf, "-Inf": -math.inf, "Inf": math.inf, "NaN": math.nan}


def _value(text: str) -> float | None:
    token = text.split(None, 1)[0] if text.strip() else ""
    if token in _SPECIAL:
        return _SPECIAL[token]
    try:
        return float(token)
    except ValueError:
        return None


def _end_of_labels(line: str, start: int) -> int:
    """Index of the `}` closing the label set opened at `start`, skipping quoted values."""
    quoted = False
    index = start + 1
    while index < len(line):
        char = line[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "}":
            return index
        index += 1
    return -1


def read_samples(text: str, names: Collection[str]) -> dict[str, list[float]]:
    """Every sample value of each metric in `names`, one entry per series (label set).

    Lines that are comments, other metrics or malformed are skipped, never raised on: a page
    from a newer engine version must not break the scrape of the figures we know.
    """
    wanted = tuple(names)
    found: dict[str, list[float]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] == "#" or not line.startswith(wanted):
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            name, end = line[:brace], _end_of_labels(line, brace)
            if end == -1:
                continue
            rest = line[end + 1 :]
        elif space != -1:
            name, rest = line[:space], line[space:]
        else:
            continue
        if name not in names:
            continue
        value = _value(rest)
        if value is not None:
            found.setdefault(name, []).append(value)
    return found
