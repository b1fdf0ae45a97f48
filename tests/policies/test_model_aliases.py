"""Glob model aliases: an exact name wins, then the first matching pattern; routes and thinking follow."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.engine import decide
from policies.errors import PolicyError, UnknownModelError
from policies.features import extract_features
from policies.loader import load_policy, parse_policy_text
from policies.model_aliases import is_pattern

ROOT = Path(__file__).resolve().parents[2]
POLICY = """
version: 1
backends:
  fast: {type: vllm, base_url: http://127.0.0.1:9/v1, model: m, family: deepseek-v3.2}
  deep: {type: vllm, base_url: http://127.0.0.1:8/v1, model: m, family: deepseek-v3.2}
models:
  claude-opus-4-8: {thinking: true}
  "claude-*haiku*": {thinking: false}
  "claude-*": {}
  "gpt-5*": {thinking: true}
  "o[34]-mini": {}
routes:
  - {name: small, when: {model: "claude-*haiku*"}, use: [fast]}
  - {name: codex, when: {model: ["gpt-5*"]}, use: [deep]}
  - {name: default, use: [fast, deep]}
"""


def _body(model: str) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def policy():
    return parse_policy_text(POLICY)


@pytest.mark.parametrize(("model", "alias", "thinking", "route"), [
    ("claude-opus-4-8", "claude-opus-4-8", True, "default"),  # exact beats claude-*
    ("claude-haiku-4-5-20251001", "claude-*haiku*", False, "small"),  # the first matching pattern
    ("claude-sonnet-4-6", "claude-*", None, "default"),
    ("gpt-5.2-codex", "gpt-5*", True, "codex"),
    ("gpt-5", "gpt-5*", True, "codex"),
    ("o4-mini", "o[34]-mini", None, "default"),
])
def test_a_model_name_resolves_to_its_alias_and_route(policy, model, alias, thinking, route):
    features = extract_features(_body(model), {}, policy)
    assert (features.model, features.model_alias, features.thinking) == (model, alias, thinking)
    assert decide(policy, features, {}).route == route


@pytest.mark.parametrize("model", ["Claude-sonnet", "gpt-4o", "o5-mini", "claude"])
def test_names_no_alias_covers_are_unknown_models(policy, model):
    with pytest.raises(UnknownModelError):
        decide(policy, extract_features(_body(model), {}, policy), {})


def test_a_request_asking_for_thinking_overrides_a_pattern_alias(policy):
    body = {**_body("claude-haiku-4-5"), "thinking": {"type": "enabled"}}
    assert extract_features(body, {}, policy).thinking is True


def test_glob_characters_are_allowed_only_in_model_keys():
    assert is_pattern("claude-*") and is_pattern("o[34]") and not is_pattern("deepseek-v3.2")
    with pytest.raises(PolicyError) as raised:
        parse_policy_text(POLICY.replace('"claude-*": {}', '"claude *": {}'))
    assert "models" in str(raised.value)
    with pytest.raises(PolicyError):
        parse_policy_text(POLICY.replace("  fast:", "  fast*:").replace("[fast]", "[fast*]").replace("[fast, deep]", "[deep]"))


@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "claude-opus-4-8", "claude-haiku-4-5-20251001", "gpt-5.2-codex",
                                   "gpt-5.6-luna"])
@pytest.mark.parametrize("name", ["default.yaml", "demo.yaml"])
def test_the_shipped_policies_route_the_coding_agents_default_model_names(name, model):
    policy = load_policy(ROOT / "policies" / name, env={"NOVITA_API_KEY": "k", "FIREWORKS_API_KEY": "k", "DEEPSEEK_API_KEY": "k"})
    decision = decide(policy, extract_features(_body(model), {}, policy), {})
    assert decision.chain


def test_a_retired_deepseek_model_id_is_a_policy_error():
    text = POLICY.replace("  deep: {type: vllm, base_url: http://127.0.0.1:8/v1, model: m, family: deepseek-v3.2}",
                          "  deep: {type: deepseek, api_key: k, model: deepseek-chat, family: deepseek-v3.2}")
    with pytest.raises(PolicyError) as raised:
        parse_policy_text(text, "p.yaml")
    assert "deepseek no longer serves 'deepseek-chat' (retired); use 'deepseek-v4-flash'" in str(raised.value)
    assert str(raised.value).startswith("p.yaml:")
