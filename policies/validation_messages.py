"""Turn pydantic validation errors into (data path, readable message) pairs naming the field.

pydantic's `loc` also holds union-member tags ("list[str]") and "[key]" for dict keys; those
are dropped by walking the loc along the actual data. Messages never include the input value,
so an expanded `${SECRET}` cannot leak into an error.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from policies.yaml_source import DataPath, format_path

__all__ = ["FieldProblem", "describe_validation_error"]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field: where it is, whether the key (not the value) is at fault, and why."""

    path: DataPath
    at_key: bool
    message: str


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[DataPath, bool]:
    """(path within `data`, whether a dict key rather than its value was at fault)."""
    path: list[str | int] = []
    current = data
    at_key = False
    last = len(loc) - 1
    for index, part in enumerate(loc):
        if part == "[key]":
            at_key = True
            continue
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif index == last and isinstance(current, dict) and isinstance(part, str):
            pass  # a missing field: keep its name, the data stops here
        else:
            continue  # a union-member or validator tag, not part of the data
        path.append(part)
    return tuple(path), at_key


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            structured = [m for m in members if _is_model(m) or typing.get_origin(m) in (list, dict)]
            annotation = (structured or members)[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _model_at(root: type[BaseModel], path: DataPath) -> type[BaseModel] | None:
    annotation: Any = root
    for part in path:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if _is_model(annotation):
            field = annotation.model_fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return None
    annotation = _unwrap(annotation)
    return annotation if _is_model(annotation) else None


def _value_at(data: Any, path: DataPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _message(error: dict[str, Any], path: DataPath, root: type[BaseModel], key_at_fault: bool) -> str:
    kind = error["type"]
    where = format_path(path[:-1]) if path else "(top level)"
    if kind == "extra_forbidden" and path:
        model = _model_at(root, path[:-1])
        valid = f" (valid keys: {', '.join(model.model_fields)})" if model else ""
        return f"unknown key '{path[-1]}' in {where}{valid}"
    if kind == "missing" and path:
        return f"{where}: missing required field '{path[-1]}'"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if key_at_fault and path:
        return f"{where}: invalid name '{path[-1]}': {message}"
    return f"{format_path(path)}: {message}"


def _location(kind: str, path: DataPath, key_at_fault: bool, data: Any) -> tuple[DataPath, bool]:
    """Which node to point at: (path, whether at its key rather than its value)."""
    if kind == "missing" and path:
        return path[:-1], True  # the mapping that lacks the field
    if kind == "extra_forbidden" or key_at_fault:
        return path, True
    if isinstance(_value_at(data, path), (dict, list)):
        return path, True  # a whole-object problem: point at its name
    return path, False


def describe_validation_error(exc: ValidationError, data: Any, root: type[BaseModel]) -> list[FieldProblem]:
    """One problem per invalid field; a union's failed alternatives are merged into one line."""
    problems: dict[tuple[DataPath, DataPath, bool], list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        path, key_at_fault = _data_path(tuple(error["loc"]), data)
        message = _message(error, path, root, key_at_fault)
        earlier = problems.setdefault((path, *_location(error["type"], path, key_at_fault, data)), [])
        earlier.append(message.removeprefix(f"{format_path(path)}: ") if earlier else message)
    return [
        FieldProblem(where, at_key, messages[0] + "".join(f", or {m}" for m in messages[1:]))
        for (_, where, at_key), messages in problems.items()
    ]
