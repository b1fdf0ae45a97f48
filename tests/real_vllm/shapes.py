"""What two servers' answers have in common besides their values: JSON shapes, SSE event sequences
and metric label sets, with differences worded so that a failing test names the field.

A shape is the keys of every object and the JSON type of every value (null, bool, int, float,
str, object, array), recursively; array lengths are data, so arrays are compared element by
element up to the shorter one. A stream is compared as its sequence of chunk shapes with
repeats collapsed (one run of token chunks is one entry, however many tokens it had).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "SseEvent", "ShapeDifference", "json_type", "shape_difference_items", "shape_differences", "stream_differences", "parse_sse", "record_sse", "event_sequence",
    "collapse_repeats", "metric_samples", "metric_differences",
]


_JSON_TYPES: tuple[tuple[type, str], ...] = (  # bool before int: True is an int in Python
    (bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (dict, "object"), (list, "array"),
)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    raise TypeError(f"not a JSON value: {value!r}")


@dataclass(frozen=True, slots=True)
class ShapeDifference:
    """One place where two JSON values differ in shape: `only_in` names the side that alone has the
    key at `path`, or is None when both have it with different JSON types; `text` says it in words."""

    path: str
    only_in: str | None
    text: str


def shape_difference_items(ours: Any, theirs: Any, path: str = "$", *, ours_name: str = "the emulator",
                           theirs_name: str = "vLLM") -> list[ShapeDifference]:
    """Every place where `ours` and `theirs` differ in keys or value types."""
    kind, their_kind = json_type(ours), json_type(theirs)
    if kind != their_kind:
        text = f"{path}: {kind} in {ours_name} ({_brief(ours)}), {their_kind} in {theirs_name} ({_brief(theirs)})"
        return [ShapeDifference(path, None, text)]
    problems: list[ShapeDifference] = []
    if kind == "object":
        for key in sorted(ours.keys() | theirs.keys()):
            where = f"{path}.{key}"
            if key not in theirs:
                problems.append(ShapeDifference(where, ours_name, f"{where}: only in {ours_name} ({_brief(ours[key])})"))
            elif key not in ours:
                problems.append(ShapeDifference(where, theirs_name, f"{where}: only in {theirs_name} ({_brief(theirs[key])})"))
            else:
                problems += shape_difference_items(ours[key], theirs[key], where, ours_name=ours_name, theirs_name=theirs_name)
    elif kind == "array":
        for index, (mine, other) in enumerate(zip(ours, theirs)):
            problems += shape_difference_items(mine, other, f"{path}[{index}]", ours_name=ours_name, theirs_name=theirs_name)
    return problems


def shape_differences(ours: Any, theirs: Any, path: str = "$", *, ours_name: str = "the emulator",
                      theirs_name: str = "vLLM") -> list[str]:
    """Every place where `ours` and `theirs` differ in keys or value types, one line each."""
    return [d.text for d in shape_difference_items(ours, theirs, path, ours_name=ours_name, theirs_name=theirs_name)]


def _brief(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _signature(value: Any) -> Any:
    """A hashable shape: equal for two values exactly when shape_differences finds nothing (up to array length)."""
    kind = json_type(value)
    if kind == "object":
        return tuple((key, _signature(value[key])) for key in sorted(value))
    if kind == "array":
        return ("array", tuple(dict.fromkeys(_signature(item) for item in value)))
    return kind


def collapse_repeats(items: Sequence[Any], key: Any = None) -> list[Any]:
    """`items` without consecutive repeats (by `key(item)` when given)."""
    out: list[Any] = []
    last = object()
    for item in items:
        mark = key(item) if key else item
        if mark != last:
            out.append(item)
            last = mark
    return out


def _describe_chunk(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or []
    if not choices:
        return "usage chunk" if chunk.get("usage") else "chunk without choices"
    choice = choices[0]
    if choice.get("finish_reason") is not None:
        return "finish chunk"
    delta = choice.get("delta")
    if isinstance(delta, dict):
        if "role" in delta:
            return "role chunk"
        return "token chunk (" + ", ".join(sorted(delta)) + ")"
    return "token chunk"


def stream_differences(ours: Sequence[dict[str, Any]], theirs: Sequence[dict[str, Any]], *,
                       ours_name: str = "the emulator", theirs_name: str = "vLLM") -> list[str]:
    """Differences between two chunk sequences, compared run by run (repeats collapsed)."""
    our_runs, their_runs = collapse_repeats(ours, _signature), collapse_repeats(theirs, _signature)
    problems: list[str] = []
    for index in range(max(len(our_runs), len(their_runs))):
        if index >= len(our_runs):
            chunk = their_runs[index]
            problems.append(f"chunks[{index}] ({_describe_chunk(chunk)}): only in {theirs_name}: {_brief(chunk)}")
        elif index >= len(their_runs):
            chunk = our_runs[index]
            problems.append(f"chunks[{index}] ({_describe_chunk(chunk)}): only in {ours_name}: {_brief(chunk)}")
        else:
            label = f"chunks[{index}] ({_describe_chunk(their_runs[index])})"
            problems += shape_differences(our_runs[index], their_runs[index], label, ours_name=ours_name, theirs_name=theirs_name)
    if problems:
        problems.append(f"(sequence of {ours_name}: {[_describe_chunk(c) for c in our_runs]}; "
                        f"of {theirs_name}: {[_describe_chunk(c) for c in their_runs]})")
    return problems


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event: its `event:` name (None without one) and its `data:` parsed as JSON
    (the string itself for a non-JSON payload such as `[DONE]`)."""

    event: str | None
    data: Any


def parse_sse(text: str) -> list[SseEvent]:
    """The events of an SSE body, in order (comments and keep-alives dropped)."""
    events: list[SseEvent] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data_lines = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data_lines.append(line[5:].strip())
        if not data_lines:
            continue
        payload = "\n".join(data_lines)
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            data = payload
        events.append(SseEvent(name, data))
    return events


def record_sse(url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None,
               timeout_s: float = 120.0) -> list[SseEvent]:
    """POST `body` to `url` and return the events of its SSE answer, in order (fails on a non-200):
    the same request to the gateway and to vLLM's own endpoint gives two sequences to compare."""
    with httpx.stream("POST", url, json=body, headers=headers, timeout=timeout_s) as response:
        text = response.read().decode()
    if response.status_code != 200:
        raise AssertionError(f"POST {url} answered {response.status_code}: {text[:500]}")
    return parse_sse(text)


def event_sequence(events: Iterable[SseEvent], *, collapse: bool = True) -> list[str]:
    """Each event's type (`data.type`, else the `event:` name, else the payload), repeats collapsed:
    what `/v1/messages` and `/v1/responses` streams are compared by."""
    names = []
    for event in events:
        data = event.data
        names.append(data.get("type") if isinstance(data, dict) and "type" in data else event.event or str(data))
    return collapse_repeats(names) if collapse else names


def metric_samples(text: str, prefix: str) -> dict[str, dict[str, Any]]:
    """Families under `prefix` on a /metrics page: {family: {type, labels: {sample name: label names}, le: bucket bounds}}."""
    families: dict[str, dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith(prefix):
            continue
        labels: dict[str, frozenset[str]] = {}
        bounds: set[float] = set()
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue  # prometheus_client's own creation timestamps, not vLLM's series
            labels.setdefault(sample.name, frozenset(sample.labels))
            if "le" in sample.labels:
                bounds.add(_bound(sample.labels["le"]))
        families[family.name] = {"type": family.type, "labels": labels, "le": bounds}
    return families


def _bound(text: str) -> float:
    return float("inf") if text == "+Inf" else float(text)


def metric_differences(ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]], names: Iterable[str], *,
                       ours_name: str = "the emulator", theirs_name: str = "vLLM") -> list[str]:
    """For each family in `names`: present on both, same type, same label names per sample, same buckets."""
    problems: list[str] = []
    for name in sorted(set(names)):
        if name not in theirs or name not in ours:
            missing = [who for who, families in ((ours_name, ours), (theirs_name, theirs)) if name not in families]
            problems.append(f"{name}: not exported by {' or '.join(missing)}")
            continue
        mine, other = ours[name], theirs[name]
        if mine["type"] != other["type"]:
            problems.append(f"{name}: a {mine['type']} in {ours_name}, a {other['type']} in {theirs_name}")
        for sample in sorted(mine["labels"].keys() | other["labels"].keys()):
            if sample not in other["labels"]:
                problems.append(f"{sample}: a series only in {ours_name}")
            elif sample not in mine["labels"]:
                problems.append(f"{sample}: a series only in {theirs_name}")
            elif mine["labels"][sample] != other["labels"][sample]:
                problems.append(f"{sample}: labels {sorted(mine['labels'][sample])} in {ours_name}, "
                                f"{sorted(other['labels'][sample])} in {theirs_name}")
        if mine["le"] != other["le"]:
            problems.append(f"{name}: bucket bounds {sorted(mine['le'])} in {ours_name}, {sorted(other['le'])} in {theirs_name}")
    return problems
