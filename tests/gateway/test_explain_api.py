"""`POST /v1/route/explain` on a running gateway with policies/default.yaml: the decision and its
reasons, the same JSON as `gateway explain`, and no backend called."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, free_port

DEFAULT_POLICY = ROOT / "policies" / "default.yaml"
THINKING = {"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "Prove that there are infinitely many primes."}]}
LONG = {"model": "auto", "max_tokens": 4000, "messages": [{"role": "user", "content": "word " * 105_000}]}
# docs/thinking.md shows the decisions for these two (`model: auto`, no explicit thinking signal)
AUTO_PROOF = {"model": "auto", "messages": [{"role": "user", "content": "Prove that the square root of 2 is irrational."}]}
AUTO_TRANSLATION = {"model": "auto", "messages": [
    {"role": "user", "content": "Translate into German: The proof is left as an exercise for the reader."}]}


@pytest.fixture(scope="module")
def env(servers) -> dict[str, str]:
    local = servers.emulator("vllm", name="explain-local")
    nowhere = f"http://127.0.0.1:{free_port()}/v1"  # managed providers: never called by explain
    return {
        "VLLM_BASE_URL": local.v1, "NOVITA_BASE_URL": nowhere, "FIREWORKS_BASE_URL": nowhere, "DEEPSEEK_BASE_URL": nowhere,
        "NOVITA_API_KEY": "sk-novita-explain", "FIREWORKS_API_KEY": "sk-fw-explain", "DEEPSEEK_API_KEY": "sk-ds-explain",
        "SWITCHYARD_PROVIDER_HEALTH_INTERVAL_S": "3600",  # one probe at start: one failure is not yet unhealthy
        "LOCAL_URL": local.url,
    }


@pytest.fixture(scope="module")
def gateway(servers, env):
    return servers.gateway(DEFAULT_POLICY.read_text(), env=env)


def _explain(gateway, body: dict) -> httpx.Response:
    return httpx.post(f"{gateway.v1}/route/explain", json=body, timeout=10)


def _cli_explain(env: dict[str, str], body: dict, tmp_path) -> dict:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body))
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "explain", "--config", str(DEFAULT_POLICY), "--request", str(request)],
        capture_output=True, text=True, env={**os.environ, **env}, cwd=ROOT, timeout=60, check=True,
    )
    return json.loads(result.stdout)


def test_thinking_request_goes_to_terminus_first_and_matches_the_cli(gateway, env, tmp_path):
    response = _explain(gateway, THINKING)
    assert response.status_code == 200
    report = response.json()
    assert (report["route"], report["strategy"], report["thinking"]) == ("reasoning", "order", True)
    assert report["chain"] == ["fireworks-terminus", "local-v32", "novita-v32"]
    reasons = {c["backend"]: c["reason"] for c in report["candidates"]}
    assert reasons["deepseek-api"] == "rank 4 by order; beyond fallback.max_attempts 3"
    assert report == _cli_explain(env, THINKING, tmp_path)  # idle live state: the offline answer


def test_auto_proof_is_detected_as_needing_thinking_and_matches_the_cli(gateway, env, tmp_path):
    report = _explain(gateway, AUTO_PROOF).json()
    assert (report["route"], report["thinking"], report["thinking_source"]) == ("reasoning", True, "detected")
    assert 0.5 <= report["thinking_score"] <= 1.0
    assert report["chain"][0] == "fireworks-terminus"
    assert report == _cli_explain(env, AUTO_PROOF, tmp_path)


def test_auto_translation_is_detected_as_plain_and_matches_the_cli(gateway, env, tmp_path):
    report = _explain(gateway, AUTO_TRANSLATION).json()
    assert (report["route"], report["thinking"], report["thinking_source"]) == ("default", False, "detected")
    assert 0.0 <= report["thinking_score"] < 0.5
    assert report["chain"][0] == "local-v32"
    assert report == _cli_explain(env, AUTO_TRANSLATION, tmp_path)


def test_explicit_signals_are_reported_with_their_source_and_no_score(gateway):
    by_model = _explain(gateway, THINKING).json()
    by_header = httpx.post(f"{gateway.v1}/route/explain", json=AUTO_PROOF, headers={"x-switchyard-thinking": "false"}).json()
    by_body = _explain(gateway, {**AUTO_TRANSLATION, "reasoning_effort": "high"}).json()
    assert [(r["thinking"], r["thinking_source"], r["thinking_score"]) for r in (by_model, by_header, by_body)] == [
        (True, "model", None), (False, "header", None), (True, "body", None)]
    assert (by_header["route"], by_body["route"]) == ("default", "reasoning")


def test_long_prompt_goes_only_where_it_fits(gateway):
    report = _explain(gateway, LONG).json()
    assert report["route"] == "long-context" and report["chain"] == ["local-v32", "novita-v32", "deepseek-api"]  # V4: 1M tokens
    assert (report["thinking"], report["thinking_source"]) == (False, "detected")  # long is not hard
    dropped = {c["backend"]: c["reason"] for c in report["candidates"] if not c["kept"]}
    assert set(dropped) == {"fireworks-terminus"}
    assert all(reason.startswith("context window ") for reason in dropped.values())
    costs = {c["backend"]: c["expected_cost_usd"] for c in report["candidates"]}
    assert costs["local-v32"] == 0.0 and costs["novita-v32"] > 0


def test_explain_calls_no_backend(gateway, env):
    httpx.delete(f"{env['LOCAL_URL']}/_emulator/requests")
    assert _explain(gateway, {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}).status_code == 200
    assert httpx.get(f"{env['LOCAL_URL']}/_emulator/requests").json()["requests"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, 404, "model_not_found"),
        ({"model": "auto"}, 400, None),
        ({"model": "auto", "messages": [{"role": "user", "content": "word " * 800_000}]}, 400, "context_length_exceeded"),
    ],
)
def test_unroutable_bodies_get_an_openai_error(gateway, body, status, code):
    response = _explain(gateway, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if status == 503:
        assert "local-v32: context window 163840 <" in error["message"]


def test_explain_is_in_the_openapi_document(gateway):
    operation = httpx.get(f"{gateway.url}/openapi.json").json()["paths"]["/v1/route/explain"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/DecisionReport"}


def test_the_token_estimate_learns_from_upstream_usage(servers, env):
    gateway = servers.gateway(DEFAULT_POLICY.read_text(), env=env)  # its own: the estimator is process-wide
    body = {"model": "deepseek-v3.2", "max_tokens": 1, "messages": [{"role": "user", "content": "abcd " * 1000}]}
    before = _explain(gateway, body).json()["input_tokens"]
    assert before == 5000 * 2 // 7 + 1 + 4  # ceil(5000 chars / 3.5) + 4 tokens for the message
    for _ in range(3):  # the emulator counts 4 characters per token
        assert httpx.post(f"{gateway.v1}/chat/completions", json=body, timeout=10).status_code == 200
    after = _explain(gateway, body).json()["input_tokens"]
    assert 1250 + 4 < after < before  # moving from 3.5 toward the upstream's ~4 characters per token
