"""Which `models:` entry a request's `model` names: an exact name, else the first glob pattern that matches.

Coding agents send their own model names (Claude Code `claude-sonnet-4-6`, Codex `gpt-5.2-codex`,
the Agents SDK its default), so an alias may be a glob pattern (`claude-*`, `gpt-5*`, shell-style
`*`, `?` and `[...]`, matched case-sensitively). An exact name always wins over a pattern; among
patterns the first in file order wins. The table is built once per policy and kept on it, so the
request path does one dict lookup, and a pattern scan only for names that are not aliases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import translate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.schema import ModelAliasSpec, Policy

__all__ = ["GLOB_CHARACTERS", "AliasTable", "alias_table", "is_pattern"]

GLOB_CHARACTERS = frozenset("*?[")


def is_pattern(name: str) -> bool:
    """True when `name` is a glob pattern rather than a plain model name."""
    return not GLOB_CHARACTERS.isdisjoint(name)


@dataclass(frozen=True, slots=True)
class AliasTable:
    """Exact aliases by name, and the pattern aliases in file order."""

    exact: Mapping[str, ModelAliasSpec]
    patterns: tuple[tuple[str, Callable[[str], object], ModelAliasSpec], ...]

    @classmethod
    def build(cls, models: Mapping[str, ModelAliasSpec]) -> AliasTable:
        exact = {name: spec for name, spec in models.items() if not is_pattern(name)}
        patterns = tuple((name, re.compile(translate(name)).match, spec) for name, spec in models.items() if is_pattern(name))
        return cls(exact, patterns)

    def resolve(self, model: str) -> tuple[str, ModelAliasSpec] | None:
        """(alias name, its spec) for the model a request names, or None when no alias covers it."""
        spec = self.exact.get(model)
        if spec is not None:
            return model, spec
        for name, matches, pattern_spec in self.patterns:
            if matches(model):
                return name, pattern_spec
        return None


def alias_table(policy: Policy) -> AliasTable:
    """`policy`'s alias table, built on first use and kept on the policy object."""
    table = policy._aliases
    if table is None:
        table = policy._aliases = AliasTable.build(policy.models)
    return table
