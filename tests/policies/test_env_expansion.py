"""`${VAR}` / `${VAR:-default}` expansion."""

from __future__ import annotations

import pytest

from policies.env_expansion import expand_env


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("plain", {}, "plain"),
        ("${A}", {"A": "1"}, "1"),
        ("x-${A}-${B}", {"A": "1", "B": "2"}, "x-1-2"),
        ("${A:-fallback}", {}, "fallback"),
        ("${A:-fallback}", {"A": ""}, "fallback"),
        ("${A:-fallback}", {"A": "set"}, "set"),
        ("${A:-}", {}, ""),
        ("cost $$5", {}, "cost $5"),
    ],
)
def test_expands_variables_and_defaults(text, env, expected):
    assert expand_env(text, env) == (expected, [])


def test_unset_variable_without_default_is_reported_by_name():
    value, problems = expand_env("${NOPE}", {})
    assert problems == ["environment variable NOPE is not set; export it or write ${NOPE:-default}"]


def test_malformed_references_are_reported():
    assert expand_env("${1BAD}", {})[1] == ["malformed variable reference '${1BAD}'"]
    assert expand_env("${OPEN", {})[1] == ["unclosed '${' (write ${VAR} or ${VAR:-default}; $$ for a literal $)"]
