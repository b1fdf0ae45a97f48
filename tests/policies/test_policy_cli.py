"""`gateway check`, `gateway schema` and `gateway explain`, run as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "policies").glob("*.yaml"))
GATEWAY = str(Path(sys.executable).parent / "gateway")  # the installed console script
KEYS_ENV = {"NOVITA_API_KEY": "test-novita", "FIREWORKS_API_KEY": "test-fireworks", "DEEPSEEK_API_KEY": "test-deepseek"}


def _gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in KEYS_ENV}
    return subprocess.run(
        [GATEWAY, *args],
        cwd=ROOT, env={**base, **(env or {})}, capture_output=True, text=True, timeout=60,
    )


def test_check_passes_every_shipped_policy_with_keys_set():
    result = _gateway("check", *map(str, SHIPPED), env=KEYS_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(SHIPPED) == 5
    assert f"{ROOT / 'policies' / 'demo.yaml'}: OK (3 backends, 7 models, 3 routes: reasoning, long-context, default)" in lines


def test_check_reports_unset_keys_by_name_with_exit_1():
    result = _gateway("check", "policies/default.yaml")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "policies/default.yaml:28:14: backends.novita-v32.api_key: environment variable NOVITA_API_KEY is not set; "
        "export it or write ${NOVITA_API_KEY:-default}",
        "policies/default.yaml:34:14: backends.fireworks-terminus.api_key: environment variable FIREWORKS_API_KEY is "
        "not set; export it or write ${FIREWORKS_API_KEY:-default}",
        "policies/default.yaml:40:14: backends.deepseek-api.api_key: environment variable DEEPSEEK_API_KEY is not set; "
        "export it or write ${DEEPSEEK_API_KEY:-default}",
    ]


def test_check_prints_one_line_per_problem_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nbackends:\n  a: {type: vllm, model: m, colour: red}\nmodels: {auto: {}}\n"
        "routes:\n  - name: r\n    use: [a, b]\n",
        encoding="utf-8",
    )
    result = _gateway("check", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{bad}:3:29: unknown key 'colour' in backends.a (valid keys: type, base_url, api_key, model, family, "
        "thinking, thinking_with_tools, context_window, cost, price, limits, timeouts, profile, emulator, deployment, simulate)",
    ]


def test_check_of_a_missing_file_fails_cleanly(tmp_path):
    result = _gateway("check", str(tmp_path / "none.yaml"))
    assert result.returncode == 1
    assert result.stderr == f"{tmp_path / 'none.yaml'}:1:1: cannot read policy file: No such file or directory\n"


def test_schema_is_valid_json_schema_and_shipped_policies_validate_against_it():
    result = _gateway("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in SHIPPED:
        errors = list(validator.iter_errors(_read_yaml(path)))
        assert errors == [], f"{path.name}: {errors[0].message if errors else ''}"
    assert schema["properties"]["routes"]["items"]["$ref"] == "#/$defs/RouteSpec"
    assert schema["$defs"]["RouteSpec"]["properties"]["prefer"]["enum"] == ["order", "cost", "latency", "weighted", "least_loaded"]
    affinity = schema["$defs"]["AffinitySpec"]["properties"]
    assert all(field.get("description") for field in affinity.values())
    detection = schema["$defs"]["ThinkingDetectionSpec"]["properties"]["threshold"]
    assert (detection["minimum"], detection["maximum"], detection["default"]) == (0.0, 1.0, 0.5)
    assert {"const": "auto", "type": "string"} in schema["$defs"]["ModelAliasSpec"]["properties"]["thinking"]["anyOf"]
    assert list(validator.iter_errors({**_read_yaml(SHIPPED[0]), "thinking_detection": {"threshold": 2}}))


def test_schema_rejects_a_typo_like_the_loader_does():
    schema = json.loads(_gateway("schema").stdout)
    policy = _read_yaml(ROOT / "policies" / "demo.yaml")
    policy["routes"][0]["prefre"] = "cost"
    with pytest.raises(jsonschema.ValidationError, match="prefre"):
        jsonschema.validate(policy, schema)


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans (true/false only), as editors' YAML servers read files: `on` stays a key."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _read_yaml(path: Path) -> object:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12Loader)


def _write(tmp_path: Path, name: str, payload: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(payload), encoding="utf-8")
    return str(path)


def test_explain_shows_the_thinking_route_for_a_reasoner_request(tmp_path):
    body = _write(tmp_path, "body.json", {"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "why?"}]})
    result = _gateway("explain", "--config", "policies/demo.yaml", "--request", body)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["route"], report["thinking"]) == ("reasoning", True)
    assert report["chain"] == ["fireworks-terminus", "local-v32", "novita-v32"]


def test_explain_spills_when_simulated_state_saturates_local(tmp_path):
    body = _write(tmp_path, "body.json", {"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    state = _write(tmp_path, "state.json", {"local-v32": {"waiting": 3}})
    result = _gateway("explain", "--config", "policies/demo.yaml", "--request", body, "--state", state)
    report = json.loads(result.stdout)
    assert report["chain"] == ["novita-v32", "fireworks-terminus"]
    local = next(c for c in report["candidates"] if c["backend"] == "local-v32")
    assert local == {"backend": "local-v32", "kept": False, "reason": "saturated: waiting 3 >= max_waiting 1", "expected_cost_usd": 0.0,
                     "latency_ms": None, "sampled_latency_ms": None, "exploration": False}


def test_explain_reports_503_reasons_when_nothing_can_serve(tmp_path):
    body = _write(tmp_path, "body.json", {"model": "deepseek-v3.2", "messages": []})
    state = _write(tmp_path, "state.json", {"local-v32": {"circuit_open": True}, "novita-v32": {"healthy": False}})
    result = _gateway("explain", "--config", "policies/demo.yaml", "--request", body, "--state", state)
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert (error["status"], error["code"]) == (503, "no_backend_available")
    assert error["dropped"] == [
        {"backend": "local-v32", "reason": "circuit open"},
        {"backend": "novita-v32", "reason": "unhealthy (health probe failing)"},
        {"backend": "fireworks-terminus", "reason": "serves deepseek-v3.1-terminus, model deepseek-v3.2 needs deepseek-v3.2"},
    ]


def test_explain_rejects_a_bad_state_field_with_exit_2(tmp_path):
    body = _write(tmp_path, "body.json", {"model": "auto"})
    state = _write(tmp_path, "state.json", {"local-v32": {"queue": 3}})
    result = _gateway("explain", "--config", "policies/demo.yaml", "--request", body, "--state", state)
    assert result.returncode == 2
    assert result.stderr.startswith(f"gateway: error: state file {state}: local-v32: unknown field 'queue' (valid: ")


def test_check_of_several_files_reports_each_and_fails_if_any_fails(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\n", encoding="utf-8")
    result = _gateway("check", "policies/demo.yaml", str(bad))
    assert result.returncode == 1
    assert result.stdout == "policies/demo.yaml: OK (3 backends, 7 models, 3 routes: reasoning, long-context, default)\n"
    assert result.stderr.splitlines() == [
        f"{bad}:1:1: (top level): missing required field 'backends'",
        f"{bad}:1:1: (top level): missing required field 'models'",
        f"{bad}:1:1: (top level): missing required field 'routes'",
    ]


def test_explain_shows_latency_figures_from_simulated_statistics(tmp_path):
    body = _write(tmp_path, "body.json", {"model": "auto", "stream": True, "max_tokens": 200,
                                          "messages": [{"role": "user", "content": "hi"}]})
    ln = __import__("math").log
    state = _write(tmp_path, "state.json", {
        "local-v32": {"ttft_stats": {"weight": 3.0, "sum_log_ms": 3 * ln(900), "sum_sq_log_ms": 3 * ln(900) ** 2}},
        "novita-v32": {"ttft_p95_ms": 400},
        "fireworks-terminus": {"ttft_p95_ms": 2500},
    })
    result = _gateway("explain", "--config", "policies/latency-first.yaml", "--request", body, "--state", state,
                      env=KEYS_ENV)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    kept = {c["backend"]: c for c in report["candidates"] if c["kept"] or c["reason"].startswith("rank")}
    assert set(kept) == {"local-v32", "novita-v32", "deepseek-api"}  # terminus: over the SLO
    assert all(c["latency_ms"] > 0 and c["sampled_latency_ms"] > 0 for c in kept.values())
    assert isinstance(report["exploration"], bool)
    terminus = next(c for c in report["candidates"] if c["backend"] == "fireworks-terminus")
    assert terminus["reason"] == "over SLO: ttft_p95 2500 ms > slo 1500 ms" and terminus["latency_ms"] is None


def test_explain_with_a_remembered_backend_shows_the_affinity_decision_offline(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text((ROOT / "docs" / "load-balancing" / "replicas.yaml").read_text())
    body = _write(tmp_path, "body.json", {"model": "deepseek-v3.2", "messages": [
        {"role": "system", "content": "You are a coding agent."}, {"role": "user", "content": "Fix the test."}]})
    offline = json.loads(_gateway("explain", "--config", str(policy), "--request", body).stdout)
    assert offline["affinity"]["reason"].startswith("not looked up")
    result = _gateway("explain", "--config", str(policy), "--request", body, "--remembered", "vllm-c")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["chain"][0] == "vllm-c"
    assert report["affinity"] == {"key": "prefix", "remembered": "vllm-c", "honoured": True,
                                  "reason": "vllm-c served this key last and is healthy and not saturated"}
    unknown = _gateway("explain", "--config", str(policy), "--request", body, "--remembered", "nope")
    assert unknown.returncode == 2 and unknown.stderr.strip() == "gateway: error: --remembered nope: no such backend in the policy"


def test_explain_text_format_gives_route_thinking_affinity_and_one_line_per_candidate():
    args = ("explain", "--config", "docs/latency-routing/policy.yaml", "--request", "docs/latency-routing/body.json",
            "--state", "docs/latency-routing/state.json", "--remembered", "novita-v32")
    text = _gateway(*args, "--format", "text", env=KEYS_ENV)
    assert text.returncode == 0, text.stderr
    report = json.loads(_gateway(*args, env=KEYS_ENV).stdout)
    lines = text.stdout.splitlines()
    assert lines[0] == f"route fastest (prefer: latency): {' -> '.join(report['chain'])}"
    assert lines[1].startswith("thinking: no need expressed; 24 input tokens, 200 expected output")
    assert lines[2] == f"affinity (prefix): honoured: {report['affinity']['reason']}"
    for line, candidate in zip(lines[3:], report["candidates"], strict=True):
        place = str(report["chain"].index(candidate["backend"]) + 1) if candidate["backend"] in report["chain"] else "-"
        assert line.split()[:3] == [place, candidate["backend"], "kept" if candidate["kept"] else "dropped"]
        assert line.endswith(candidate["reason"])
