"""Policy loading: every error kind reads FILE:LINE:COL: message, naming the field."""

from __future__ import annotations

import hashlib

import pytest

from policies.errors import PolicyError
from policies.loader import load_policy, parse_policy_text

BASE = """\
version: 1
backends:
  local:
    type: vllm
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
  novita:
    type: novita
    api_key: ${NOVITA_API_KEY}
    model: deepseek/deepseek-v3.2
models:
  auto: {}
routes:
  - name: main
    use: [local, novita]
    prefer: cost
"""
ENV = {"NOVITA_API_KEY": "sk-secret-value"}


def _errors(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text, "p.yaml", env=ENV if env is None else env)
    return [str(issue) for issue in caught.value.issues]


ERROR_CASES = [
    (
        "unknown key",
        BASE.replace("    family: deepseek-v3.2\n", "    famly: deepseek-v3.2\n"),
        "p.yaml:6:5: unknown key 'famly' in backends.local (valid keys: type, base_url, api_key, model, family, "
        "thinking, thinking_with_tools, context_window, cost, price, limits, timeouts, profile, emulator, deployment, simulate)",
    ),
    (
        "bad enum",
        BASE.replace("type: vllm", "type: tgi"),
        "p.yaml:4:11: backends.local.type: Input should be 'vllm', 'sglang', 'lmstudio', 'novita', 'fireworks', "
        "'deepseek', 'openai', 'litellm' or 'emulator'",
    ),
    (
        "bad type",
        BASE.replace("    family: deepseek-v3.2\n", "    family: deepseek-v3.2\n    limits: {max_waiting: lots}\n"),
        "p.yaml:7:27: backends.local.limits.max_waiting: Input should be a valid integer, unable to parse string as an integer",
    ),
    (
        "missing field",
        BASE.replace("    model: deepseek-ai/DeepSeek-V3.2\n", ""),
        "p.yaml:3:3: backends.local: missing required field 'model'",
    ),
    (
        "unknown backend in use",
        BASE.replace("use: [local, novita]", "use: [local, novita, fireworks]"),
        "p.yaml:15:26: route 'main': unknown backend 'fireworks' in use (defined: local, novita)",
    ),
    (
        "route after a catch-all",
        BASE + "  - name: late\n    when: {tools: true}\n    use: [local]\n",
        "p.yaml:17:5: route 'late' is unreachable: earlier route 'main' matches every request (it has no when)",
    ),
    (
        "route with an identical when",
        BASE.replace("  - name: main\n", "  - name: first\n    when: {tools: true}\n    use: [novita]\n  - name: main\n    when: {tools: true}\n"),
        "p.yaml:17:5: route 'main' is unreachable: earlier route 'first' has the identical when",
    ),
    (
        "unknown strategy",
        BASE.replace("prefer: cost", "prefer: cheapest"),
        "p.yaml:16:13: route 'main': unknown prefer strategy 'cheapest' (valid: order, cost, latency, weighted, least_loaded)",
    ),
    (
        "unknown affinity key",
        BASE.replace("prefer: cost", "prefer: cost\n    affinity: {key: session}"),
        "p.yaml:17:21: routes[0].affinity.key: key must be prefix, user or header:<name> (an HTTP header name, "
        "e.g. header:x-session-id)",
    ),
    (
        "affinity header without a name",
        BASE.replace("prefer: cost", "prefer: cost\n    affinity:\n      key: 'header:'"),
        "p.yaml:18:12: routes[0].affinity.key: key must be prefix, user or header:<name> (an HTTP header name, "
        "e.g. header:x-session-id)",
    ),
    (
        "affinity prefix_messages below one",
        BASE.replace("prefer: cost", "prefer: cost\n    affinity: {key: prefix, prefix_messages: 0}"),
        "p.yaml:17:46: routes[0].affinity.prefix_messages: Input should be greater than or equal to 1",
    ),
    (
        "affinity ttl not positive",
        BASE.replace("prefer: cost", "prefer: cost\n    affinity: {ttl_s: -1}"),
        "p.yaml:17:23: routes[0].affinity.ttl_s: Input should be greater than 0",
    ),
    (
        "unknown affinity field",
        BASE.replace("prefer: cost", "prefer: cost\n    affinity: {ttl: 60}"),
        "p.yaml:17:16: unknown key 'ttl' in routes[0].affinity (valid keys: key, prefix_messages, ttl_s, max_waiting, "
        "max_kv_usage)",
    ),
    (
        "weights without weighted",
        BASE.replace("prefer: cost", "prefer: cost\n    weights: {local: 1}"),
        "p.yaml:17:5: route 'main': weights apply only with prefer: weighted",
    ),
    (
        "weighted without weights",
        BASE.replace("prefer: cost", "prefer: weighted"),
        "p.yaml:16:13: route 'main': prefer: weighted needs weights: {backend: weight}",
    ),
    (
        "weight for a backend not in use",
        BASE.replace("prefer: cost", "prefer: weighted\n    weights: {local: 1, ghost: 2}"),
        "p.yaml:17:25: route 'main': weight for 'ghost', which is not in use",
    ),
    (
        "unknown model alias in when",
        BASE.replace("    use: [local, novita]", "    when: {model: gpt-4}\n    use: [local, novita]"),
        "p.yaml:15:19: route 'main': unknown model alias 'gpt-4' in when.model (defined: auto)",
    ),
    (
        "invalid YAML",
        BASE.replace("  auto: {}", "  auto: {\n"),
        "p.yaml:15:3: invalid YAML: expected the node content, but found '-'",
    ),
    (
        "duplicate key",
        BASE.replace("  auto: {}", "  auto: {}\n  auto: {}"),
        "p.yaml:13:3: duplicate key 'auto' in models",
    ),
    (
        "emulator without profile",
        BASE.replace("type: vllm", "type: emulator"),
        "p.yaml:3:3: backends.local: type emulator needs a profile (vllm, sglang, novita, fireworks, deepseek)",
    ),
    (
        "empty comparison",
        BASE.replace("    use: [local, novita]", "    when: {input_tokens: {}}\n    use: [local, novita]"),
        "p.yaml:15:12: routes[0].when.input_tokens: give at least one of gt, gte, lt, lte",
    ),
    (
        "no price for a cost route",
        BASE.replace("deepseek/deepseek-v3.2", "deepseek/unknown"),
        "p.yaml:15:18: route 'main': backend 'novita' has no price (litellm's cost map has no priced entry "
        "'novita/deepseek/unknown'); add price: {input_usd_per_mtok, output_usd_per_mtok} to backends.novita",
    ),
    (
        "wrong version",
        BASE.replace("version: 1", "version: 2"),
        "p.yaml:1:10: version: Input should be 1",
    ),
    (
        "unknown fallback kind",
        BASE + "fallback:\n  on: [boom]\n",
        "p.yaml:18:8: fallback.on[0]: Input should be 'connect_error', 'timeout', 'rate_limited', 'server_error', "
        "'client_error' or 'midstream'",
    ),
    (
        "model alias family no backend serves",
        BASE.replace("  auto: {}", "  auto: {family: deepseek-v4}"),
        "p.yaml:12:18: model 'auto' needs family deepseek-v4, which no backend serves (served: deepseek-v3.2)",
    ),
    (
        "client key with a malformed hash",
        BASE + "keys:\n  - {name: team-a, sha256: abc}\n",
        "p.yaml:18:28: keys[0].sha256: String should match pattern '^[0-9a-f]{64}$'",
    ),
    (
        "thinking threshold out of range",
        BASE + "thinking_detection: {threshold: 1.5}\n",
        "p.yaml:17:33: thinking_detection.threshold: Input should be less than or equal to 1",
    ),
    (
        "unknown key in thinking_detection",
        BASE + "thinking_detection:\n  treshold: 0.4\n",
        "p.yaml:18:3: unknown key 'treshold' in thinking_detection (valid keys: threshold)",
    ),
    (
        "model alias thinking neither a boolean nor auto",
        BASE.replace("  auto: {}", "  auto: {thinking: maybe}"),
        "p.yaml:12:20: models.auto.thinking: Input should be a valid boolean, unable to interpret input, or "
        "Input should be 'auto'",
    ),
    (
        "duplicate route name",
        BASE.replace("  - name: main\n", "  - name: main\n    when: {stream: true}\n    use: [local]\n  - name: main\n"),
        "p.yaml:17:11: duplicate route name 'main'",
    ),
]


@pytest.mark.parametrize(("kind", "text", "expected"), ERROR_CASES, ids=[case[0] for case in ERROR_CASES])
def test_each_error_kind_names_file_line_column_and_field(kind, text, expected):
    assert _errors(text) == [expected]


def test_unset_variable_is_an_error_naming_it_and_its_line():
    assert _errors(BASE, env={}) == [
        "p.yaml:9:14: backends.novita.api_key: environment variable NOVITA_API_KEY is not set; "
        "export it or write ${NOVITA_API_KEY:-default}"
    ]


def test_errors_never_show_a_variable_value():
    text = BASE.replace("    family: deepseek-v3.2\n", "    family: deepseek-v3.2\n    limits:\n      max_waiting: ${WAIT}\n")
    errors = _errors(text, env={"NOVITA_API_KEY": "sk-secret-value", "WAIT": "hunter2"})
    assert errors == ["p.yaml:8:20: backends.local.limits.max_waiting: Input should be a valid integer, unable to parse string as an integer"]
    assert "hunter2" not in errors[0]


def test_all_errors_are_reported_at_once_in_file_order():
    text = BASE.replace("type: vllm", "type: tgi").replace("prefer: cost", "prefer: cost\n    colour: red")
    errors = _errors(text)
    assert [e.split(": ")[0] for e in errors] == ["p.yaml:4:11", "p.yaml:17:5"]


def test_variables_expand_with_defaults_and_secrets_become_secret_str():
    text = BASE.replace("    family: deepseek-v3.2\n", "    family: deepseek-v3.2\n    base_url: ${VLLM_URL:-http://10.0.0.5:8000/v1}\n")
    policy = parse_policy_text(text, "p.yaml", env=ENV)
    assert policy.backends["local"].base_url == "http://10.0.0.5:8000/v1"
    assert policy.backends["novita"].api_key.get_secret_value() == "sk-secret-value"
    assert "sk-secret-value" not in repr(policy.backends["novita"])


def test_client_keys_validate_with_tags_budgets_and_rates():
    digest = hashlib.sha256(b"sk-team-a").hexdigest()
    text = BASE + (
        f"keys:\n  - name: team-a\n    sha256: '{digest}'\n    tags: [batch]\n"
        "    budgets: {daily_usd: 5, monthly_usd: 100}\n    rpm: 60\n    tpm: 100000\n"
    )
    key = parse_policy_text(text, "p.yaml", env=ENV).keys[0]
    assert (key.name, key.tags, key.budgets.daily_usd, key.rpm, key.tpm) == ("team-a", ["batch"], 5.0, 60, 100000)


def test_yaml_one_point_one_on_key_stays_a_key():
    policy = parse_policy_text(BASE + "fallback:\n  on: [timeout]\n  max_attempts: 2\n", "p.yaml", env=ENV)
    assert (policy.fallback.on, policy.fallback.max_attempts) == (["timeout"], 2)


def test_defaults_are_filled_per_type_family_and_cost_map():
    policy = parse_policy_text(BASE, "p.yaml", env=ENV)
    local, novita = policy.backends["local"], policy.backends["novita"]
    assert (local.base_url, local.context_window, local.thinking) == ("http://127.0.0.1:8000/v1", 163840, True)
    assert (novita.base_url, novita.context_window) == ("https://api.novita.ai/openai/v1", 163840)
    assert policy.fallback.on == ["connect_error", "timeout", "rate_limited", "server_error"]


def test_empty_and_non_mapping_files_are_errors():
    assert _errors("") == ["p.yaml:1:1: the policy file is empty"]
    assert _errors("- a\n- b\n") == ["p.yaml:1:1: a policy file must be a mapping (version, backends, models, routes)"]


def test_missing_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}:1:1: cannot read policy file: No such file or directory"


def test_thinking_auto_and_the_detection_threshold_load():
    policy = parse_policy_text(BASE.replace("  auto: {}", "  auto: {thinking: auto}") + "thinking_detection: {threshold: 0.7}\n",
                               "p.yaml", env=ENV)
    assert (policy.models["auto"].thinking, policy.thinking_detection.threshold) == ("auto", 0.7)
    assert parse_policy_text(BASE, "p.yaml", env=ENV).thinking_detection.threshold == 0.5
