"""A route's `when`, compiled once at load time into a tuple of small predicates."""

from __future__ import annotations

from collections.abc import Callable

from policies.features import RequestFeatures
from policies.schema import ComparisonSpec, WhenSpec

__all__ = ["Predicate", "compile_when", "compile_comparison"]

Predicate = Callable[[RequestFeatures], bool]


def compile_comparison(spec: ComparisonSpec) -> Callable[[float | None], bool]:
    """A test of one number against every bound given; None (not known) never matches."""
    above = float("-inf") if spec.gt is None else spec.gt
    at_least = float("-inf") if spec.gte is None else spec.gte
    below = float("inf") if spec.lt is None else spec.lt
    at_most = float("inf") if spec.lte is None else spec.lte

    def holds(value: float | None) -> bool:
        return value is not None and above < value < below and at_least <= value <= at_most

    return holds


def _set_of(value: str | list[str]) -> frozenset[str]:
    return frozenset([value] if isinstance(value, str) else value)


def _predicates(when: WhenSpec) -> list[Predicate]:
    tests: list[Predicate] = []
    if when.model is not None:
        models = _set_of(when.model)
        tests.append(lambda f: f.model in models or f.model_alias in models)  # a name, or the pattern alias it matched
    if when.thinking is not None:
        wanted = when.thinking
        tests.append(lambda f: (f.thinking is True) == wanted)
    if when.input_tokens is not None:
        input_ok = compile_comparison(when.input_tokens)
        tests.append(lambda f: input_ok(f.input_tokens))
    if when.max_tokens is not None:
        max_ok = compile_comparison(when.max_tokens)
        tests.append(lambda f: max_ok(f.max_tokens))
    if when.tools is not None:
        tools = when.tools
        tests.append(lambda f: f.tools == tools)
    if when.stream is not None:
        stream = when.stream
        tests.append(lambda f: f.stream == stream)
    if when.response_format is not None:
        formats = _set_of(when.response_format)
        tests.append(lambda f: (f.response_format or "text") in formats)
    if when.key_tags:
        tags = frozenset(when.key_tags)
        tests.append(lambda f: tags <= f.key_tags)
    if when.header:
        wanted_headers = tuple((name.lower(), value) for name, value in when.header.items())
        tests.append(lambda f: all(f.headers.get(name) == value for name, value in wanted_headers))
    if when.budget_remaining_usd is not None:
        budget_ok = compile_comparison(when.budget_remaining_usd)
        tests.append(lambda f: budget_ok(f.budget_remaining_usd))
    return tests


def compile_when(when: WhenSpec | None) -> Predicate:
    """One predicate that holds when every condition in `when` holds (always, for no `when`).

    `thinking: true` matches requests that need thinking; `thinking: false` those that do not
    (asked off, or said nothing). `max_tokens` / `budget_remaining_usd` comparisons never match
    a request that does not carry the figure. An absent `response_format` counts as `text`.
    """
    tests = tuple(_predicates(when)) if when is not None else ()
    if not tests:
        return lambda features: True
    if len(tests) == 1:
        return tests[0]
    return lambda features: all(test(features) for test in tests)
