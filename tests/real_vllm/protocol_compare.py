"""Comparing the gateway's Anthropic Messages and OpenAI Responses answers with vLLM's own native
endpoints for the same request: event labels, the published spec (the official SDKs' types), and
shape differences explained by a table of allowances, each with its reason.

A stream is compared by its sequence of event labels (the event type, with the block, delta, item
or part type it carries), repeats collapsed: how many deltas a text took is data (vLLM merges tokens
when its HTTP side lags). The spec check validates every object against the SDK's pydantic type for
its `type`, so a missing required field, a wrong JSON type or an unknown enum value is named.
Shapes are compared with `shapes.shape_difference_items`; a difference no allowance explains fails.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tests.real_vllm.shapes import ShapeDifference, collapse_repeats, shape_difference_items

__all__ = [
    "GATEWAY", "VLLM", "Allowance", "anthropic_label", "responses_label", "labels", "label_runs", "spec_problems",
    "event_types", "unexplained_differences", "sequence_problems",
]

GATEWAY = "the gateway"
VLLM = "vLLM"


@dataclass(frozen=True, slots=True)
class Allowance:
    """A shape difference that is allowed, and why.

    `where` is an fnmatch pattern over `LABEL PATH` (LABEL: the event label, or `message` /
    `response` for a non-streamed answer; PATH: the JSON path, e.g. `$.usage.cache_read_input_tokens`);
    `only_in` is the side that alone has the key (GATEWAY or VLLM), or None for a JSON type difference.
    """

    where: str
    only_in: str | None
    reason: str

    def explains(self, label: str, difference: ShapeDifference) -> bool:
        return self.only_in == difference.only_in and fnmatchcase(f"{label} {difference.path}", self.where)


def anthropic_label(data: Mapping[str, Any]) -> str:
    """`content_block_start(thinking)`, `content_block_delta(text_delta)`, else the event's type."""
    kind = str(data.get("type"))
    if kind == "content_block_start":
        return f"{kind}({(data.get('content_block') or {}).get('type')})"
    if kind == "content_block_delta":
        return f"{kind}({(data.get('delta') or {}).get('type')})"
    return kind


def responses_label(data: Mapping[str, Any]) -> str:
    """`response.output_item.added(message)`, `response.content_part.done(output_text)`, else the event's type."""
    kind = str(data.get("type"))
    if kind.startswith("response.output_item."):
        return f"{kind}({(data.get('item') or {}).get('type')})"
    if kind.startswith("response.content_part."):
        return f"{kind}({(data.get('part') or {}).get('type')})"
    return kind


def labels(events: Iterable[Mapping[str, Any]], label: Callable[[Mapping[str, Any]], str]) -> list[str]:
    """The events' labels with repeats collapsed."""
    return collapse_repeats([label(event) for event in events])


def label_runs(events: Sequence[Mapping[str, Any]], label: Callable[[Mapping[str, Any]], str]) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, first event) of each run of equally labelled events: what is compared shape by shape."""
    runs: list[tuple[str, Mapping[str, Any]]] = []
    for event in events:
        name = label(event)
        if not runs or runs[-1][0] != name:
            runs.append((name, event))
    return runs


def sequence_problems(ours: Sequence[str], theirs: Sequence[str]) -> list[str]:
    """Where two label sequences part, or nothing when they are equal."""
    if list(ours) == list(theirs):
        return []
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    ours_at = ours[first] if first < len(ours) else "(end)"
    theirs_at = theirs[first] if first < len(theirs) else "(end)"
    return [f"events[{first}] (runs collapsed): {ours_at} from {GATEWAY}, {theirs_at} from {VLLM}",
            f"(sequence from {GATEWAY}: {list(ours)}; from {VLLM}: {list(theirs)})"]


def unexplained_differences(ours: Any, theirs: Any, label: str, allowances: Iterable[Allowance]) -> list[str]:
    """`label: ...` for each shape difference between the gateway's `ours` and vLLM's `theirs` no allowance explains."""
    rules = list(allowances)
    return [f"{label} {difference.text}" for difference in shape_difference_items(ours, theirs, ours_name=GATEWAY, theirs_name=VLLM)
            if not any(rule.explains(label, difference) for rule in rules)]


def event_types(union: Any) -> dict[str, type]:
    """`type` value -> SDK model, for a union of event (or item) models (Annotated or not)."""
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    models: dict[str, type] = {}
    for model in typing.get_args(union):
        for value in typing.get_args(model.model_fields["type"].annotation):
            models[value] = model
    return models


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _relevant(errors: list[Any]) -> list[Any]:
    """The errors of the union members the data was meant to be. The SDKs tell their union members
    apart by `type` only in their own metadata, so pydantic tries every member; a member whose `type`
    literal did not match (loc `..., Member, "type"`) is the wrong one, and its errors are dropped
    (all of them are kept when no member matched)."""
    wrong = {tuple(error["loc"][:-1]) for error in errors
             if error["type"] == "literal_error" and len(error["loc"]) >= 2 and error["loc"][-1] == "type"
             and str(error["loc"][-2])[:1].isupper()}
    kept = [error for error in errors if not any(tuple(error["loc"][:len(member)]) == member for member in wrong)]
    return kept or errors


def spec_problems(data: Any, model: Any, label: str) -> list[str]:
    """Why `data` is not a valid `model` (an SDK type), one line per error, or nothing."""
    try:
        _adapter(model).validate_python(data)
    except ValidationError as exc:
        return [f"{label}: {'.'.join(str(part) for part in error['loc']) or '$'}: {error['msg']}"
                for error in _relevant(exc.errors())]
    return []
