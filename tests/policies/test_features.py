"""Request features: thinking need, token estimate, and the simple request facts."""

from __future__ import annotations

import pytest

from policies.features import extract_features
from policies.thinking_need import thinking_need, thinking_verdict
from policies.token_estimate import TokenEstimator, count_prompt_chars


@pytest.mark.parametrize(
    ("body", "headers", "alias_thinking", "expected"),
    [
        ({}, {}, None, None),
        ({}, {}, True, True),
        ({}, {}, False, False),
        ({"reasoning_effort": "high"}, {}, None, True),
        ({"reasoning_effort": "low"}, {}, False, True),
        ({"reasoning_effort": "none"}, {}, True, False),
        ({"thinking": {"type": "enabled"}}, {}, None, True),
        ({"thinking": {"type": "disabled"}}, {}, True, False),
        ({"chat_template_kwargs": {"thinking": True}}, {}, None, True),
        ({"chat_template_kwargs": {"enable_thinking": False}}, {}, True, False),
        ({"enable_thinking": True}, {}, None, True),
        ({"enable_thinking": False}, {}, None, False),
        ({"enable_thinking": False, "reasoning_effort": "high"}, {}, None, True),
        ({}, {"x-switchyard-thinking": "true"}, False, True),
        ({"reasoning_effort": "high"}, {"x-switchyard-thinking": "false"}, None, False),
        ({}, {"x-switchyard-thinking": "maybe"}, None, None),
    ],
)
def test_thinking_need_follows_every_explicit_signal(body, headers, alias_thinking, expected):
    assert thinking_need(body, headers, alias_thinking) is expected


def test_features_take_thinking_from_the_model_alias(make_policy):
    policy = make_policy()
    body = {"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "hi"}]}
    assert extract_features(body, {}, policy).thinking is True
    body["model"] = "deepseek-chat"
    assert extract_features(body, {}, policy).thinking is False


def test_features_read_the_thinking_header_in_any_case(make_policy):
    features = extract_features({"model": "auto"}, {"X-Switchyard-Thinking": "true"}, make_policy())
    assert features.thinking is True
    assert features.headers == {"x-switchyard-thinking": "true"}


def test_features_carry_request_facts(make_policy):
    body = {
        "model": "auto",
        "messages": [{"role": "user", "content": "x" * 70}],
        "max_completion_tokens": 300,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "stream": True,
        "response_format": {"type": "json_object"},
    }
    features = extract_features(body, {}, make_policy(), key_tags=frozenset({"team-a"}), budget_remaining_usd=1.5)
    assert (features.model, features.max_tokens, features.tools, features.stream) == ("auto", 300, True, True)
    assert features.response_format == "json_object"
    assert features.key_tags == frozenset({"team-a"})
    assert features.budget_remaining_usd == 1.5


def test_max_tokens_is_read_when_max_completion_tokens_is_absent(make_policy):
    features = extract_features({"model": "auto", "max_tokens": 77}, {}, make_policy())
    assert features.max_tokens == 77


def test_missing_model_becomes_an_empty_name(make_policy):
    assert extract_features({"messages": []}, {}, make_policy()).model == ""


def test_prompt_chars_count_text_parts_tool_calls_and_tool_schemas():
    tools = [{"type": "function", "function": {"name": "get", "parameters": {}}}]
    body = {
        "messages": [
            {"role": "system", "content": "abcd"},
            {"role": "user", "content": [{"type": "text", "text": "efgh"}, {"type": "image_url", "image_url": {}}]},
            {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "get", "arguments": "{}"}}]},
        ],
        "tools": tools,
    }
    chars, messages = count_prompt_chars(body)
    tools_chars = len('[{"type":"function","function":{"name":"get","parameters":{}}}]')
    assert (chars, messages) == (4 + 4 + 3 + 2 + tools_chars, 3)


def test_prompt_chars_count_a_completions_prompt():
    assert count_prompt_chars({"prompt": "hello"}) == (5, 0)
    assert count_prompt_chars({"prompt": ["ab", "cd"]}) == (4, 0)


def test_token_estimate_is_chars_over_ratio_plus_message_overhead():
    estimator = TokenEstimator(chars_per_token=4.0)
    assert estimator.estimate(400, messages=2) == 100 + 8


def test_token_estimator_moves_toward_observed_usage():
    estimator = TokenEstimator(chars_per_token=3.5, alpha=0.5)
    estimator.observe(chars=4000, prompt_tokens=1000)  # observed 4.0 chars per token
    assert estimator.chars_per_token == pytest.approx(3.75)
    for _ in range(30):
        estimator.observe(chars=4000, prompt_tokens=1000)
    assert estimator.chars_per_token == pytest.approx(4.0, abs=1e-6)


def test_token_estimator_ignores_empty_usage_and_clamps_outliers():
    estimator = TokenEstimator(chars_per_token=3.5, alpha=1.0)
    estimator.observe(chars=100, prompt_tokens=0)
    assert estimator.chars_per_token == 3.5
    estimator.observe(chars=100_000, prompt_tokens=1)
    assert estimator.chars_per_token == 8.0


PROOF = {"model": "auto", "messages": [{"role": "user", "content": "Prove that there are infinitely many primes."}]}
TRANSLATION = {"model": "auto", "messages": [{"role": "user", "content": "Translate into French: the meeting moved to 3 pm."}]}


@pytest.mark.parametrize(
    ("body", "headers", "alias_thinking", "expected"),
    [
        ({}, {"x-switchyard-thinking": "false"}, "auto", (False, "header")),
        ({"reasoning_effort": "high"}, {"x-switchyard-thinking": "false"}, "auto", (False, "header")),
        ({"reasoning_effort": "none"}, {}, "auto", (False, "body")),
        ({"thinking": {"type": "enabled"}}, {}, False, (True, "body")),
        ({"enable_thinking": False}, {}, True, (False, "body")),
        ({}, {}, True, (True, "model")),
        ({}, {}, False, (False, "model")),
        ({}, {}, None, (None, None)),
        ({}, {"x-switchyard-thinking": "maybe"}, None, (None, None)),
    ],
)
def test_explicit_signals_win_over_detection_in_order(body, headers, alias_thinking, expected):
    verdict = thinking_verdict({**PROOF, **body}, headers, alias_thinking)
    assert (verdict.thinking, verdict.source, verdict.score) == (*expected, None)


def test_auto_with_no_signal_is_decided_by_the_detector_with_its_score():
    proof, translation = thinking_verdict(PROOF, {}, "auto"), thinking_verdict(TRANSLATION, {}, "auto")
    assert (proof.thinking, proof.source) == (True, "detected") and proof.score >= 0.5
    assert (translation.thinking, translation.source) == (False, "detected") and translation.score < 0.5


def test_the_threshold_moves_the_decision(make_policy):
    score = thinking_verdict(PROOF, {}, "auto").score
    assert thinking_verdict(PROOF, {}, "auto", threshold=score).thinking is True  # at the threshold: on
    assert thinking_verdict(PROOF, {}, "auto", threshold=min(score + 0.0001, 1.0)).thinking is False
    strict = make_policy()
    strict.models["auto"].thinking = "auto"
    strict.thinking_detection.threshold = 1.0
    features = extract_features(PROOF, {}, strict)
    assert (features.thinking, features.thinking_source, features.thinking_score) == (False, "detected", score)
    strict.thinking_detection.threshold = 0.0
    assert extract_features(TRANSLATION, {}, strict).thinking is True


def test_features_of_an_auto_alias_carry_source_and_score(make_policy):
    policy = make_policy()
    policy.models["auto"].thinking = "auto"
    features = extract_features(PROOF, {}, policy)
    assert (features.thinking, features.thinking_source) == (True, "detected")
    assert features.thinking_score == thinking_verdict(PROOF, {}, "auto").score
    explicit = extract_features({**PROOF, "reasoning_effort": "none"}, {}, policy)
    assert (explicit.thinking, explicit.thinking_source, explicit.thinking_score) == (False, "body", None)
    assert extract_features(PROOF, {}, make_policy()).thinking_source is None  # auto: {} says nothing
