"""Family capabilities as data: a request that needs thinking and carries tools skips families that call
tools only without thinking (DeepSeek-V3.1 / V3.1-Terminus), and explain says why."""

from __future__ import annotations

import pytest

from policies.decision import DecisionReport
from policies.engine import decide
from policies.families import FAMILIES
from policies.features import RequestFeatures

TERMINUS_REASON = "cannot think with tools: deepseek-v3.1-terminus calls tools only in non-thinking mode"


def _verdicts(decision) -> dict[str, tuple[bool, str]]:
    return {v.backend: (v.kept, v.reason) for v in decision.candidates}


@pytest.mark.parametrize(("family", "thinks_with_tools"), [
    ("deepseek-v3.2", True), ("deepseek-v3.2-exp", False), ("deepseek-v3.1-terminus", False),
    ("deepseek-v3.1", False), ("deepseek-v4-flash", True), ("deepseek-v4-pro", True),
])
def test_the_family_catalog_says_which_families_think_with_tools(family, thinks_with_tools):
    assert FAMILIES[family].thinks_with_tools is thinks_with_tools


def test_thinking_with_tools_skips_terminus_and_explain_says_why(make_policy):
    policy = make_policy(routes=[{"name": "r", "use": ["terminus", "novita"]}])
    decision = decide(policy, RequestFeatures(model="auto", thinking=True, tools=True), {})
    assert decision.chain == ["novita"]
    assert _verdicts(decision)["terminus"] == (False, TERMINUS_REASON)
    report = DecisionReport.from_decision(decision)
    assert [(c.backend, c.kept, c.reason) for c in report.candidates if not c.kept] == [("terminus", False, TERMINUS_REASON)]


@pytest.mark.parametrize("features", [
    RequestFeatures(model="auto", thinking=True, tools=False),  # thinking alone: Terminus thinks
    RequestFeatures(model="auto", thinking=False, tools=True),  # tools alone: Terminus calls tools
    RequestFeatures(model="auto", thinking=None, tools=True),
])
def test_terminus_still_serves_thinking_or_tools_alone(make_policy, features):
    policy = make_policy(routes=[{"name": "r", "use": ["terminus", "novita"]}])
    assert decide(policy, features, {}).chain == ["terminus", "novita"]


def test_a_backend_may_override_its_family(make_policy):
    policy = make_policy(routes=[{"name": "r", "use": ["terminus", "novita"]}],
                         backends={"terminus": {"thinking_with_tools": True}, "novita": {"thinking_with_tools": False}})
    decision = decide(policy, RequestFeatures(model="auto", thinking=True, tools=True), {})
    assert decision.chain == ["terminus"]
    assert _verdicts(decision)["novita"] == (
        False, "cannot think with tools: deepseek-v3.2 calls tools only in non-thinking mode")


def test_a_backend_without_family_thinks_with_tools_when_it_thinks(make_policy):
    policy = make_policy(backends={"plain": {"thinking": True}, "other": {"type": "openai", "model": "x"}},
                         routes=[{"name": "r", "use": ["plain", "other"]}])
    assert policy.backends["plain"].thinking_with_tools is True
    assert policy.backends["other"].thinking_with_tools is False  # it cannot think at all: no_thinking drops it
    decision = decide(policy, RequestFeatures(model="auto", thinking=True, tools=True), {})
    assert decision.chain == ["plain"]
    assert _verdicts(decision)["other"] == (False, "cannot serve thinking mode")
