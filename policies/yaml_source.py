"""YAML to plain Python data, remembering where every node was written (line and column).

`yaml.compose` gives a node tree with marks; we build the data from it ourselves so each value
path (("routes", 0, "use", 1)) maps to its mark, expanding `${VAR}` in string scalars on the way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from policies.env_expansion import expand_env

__all__ = ["DataPath", "SourceMap", "LocatedProblem", "read_yaml", "format_path"]

DataPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class LocatedProblem:
    """A problem found while reading, at 1-based line and column."""

    line: int
    column: int
    message: str


@dataclass(slots=True)
class SourceMap:
    """Data path -> (line, column) of its value node and, for mapping entries, of its key."""

    values: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[DataPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: DataPath, *, at_key: bool = False) -> tuple[int, int]:
        """Where `path` was written; the nearest written ancestor when it was not (a missing field)."""
        if at_key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return (1, 1)


def format_path(path: DataPath) -> str:
    """("routes", 0, "use", 1) -> "routes[0].use[1]"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _position(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.source = SourceMap()
        self.problems: list[LocatedProblem] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: DataPath) -> Any:
        self.source.values[path] = _position(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        value = self._constructor.construct_object(node, deep=True)
        if isinstance(value, str):
            value, messages = expand_env(value, self.env)
            where = format_path(path)
            line, column = _position(node)
            self.problems.extend(LocatedProblem(line, column, f"{where}: {message}") for message in messages)
        return value

    def _mapping(self, node: yaml.MappingNode, path: DataPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line, column = _position(key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(LocatedProblem(line, column, f"{format_path(path)}: keys must be plain names"))
                continue
            key = str(key_node.value)  # raw text: YAML 1.1 would turn a key `on` into True
            child = path + (key,)
            if key in result:
                self.problems.append(LocatedProblem(line, column, f"duplicate key '{key}' in {format_path(path)}"))
                continue
            self.source.keys[child] = (line, column)
            result[key] = self.build(value_node, child)
        return result


def read_yaml(text: str, env: Mapping[str, str]) -> tuple[Any, SourceMap, list[LocatedProblem]]:
    """Parse one YAML document into data, its source map and any problems (syntax, env, keys)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "invalid YAML"
        return None, SourceMap(), [LocatedProblem(line, column, f"invalid YAML: {reason}")]
    except yaml.YAMLError as exc:
        return None, SourceMap(), [LocatedProblem(1, 1, f"invalid YAML: {exc}")]
    if root is None:
        return None, SourceMap(), [LocatedProblem(1, 1, "the policy file is empty")]
    builder = _Builder(env)
    try:
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, builder.source, [LocatedProblem(line, column, f"invalid YAML value: {exc.problem}")]
    return data, builder.source, builder.problems
