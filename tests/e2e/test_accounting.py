"""Keys, budgets, rate limits, the usage ledger, spend and metrics through one real gateway process.

One gateway (in-process state, SQLite ledger) in front of a DeepSeek-profile emulator and a vLLM
emulator; the official openai SDK is the client. The ledger is read back over `/admin/usage`,
`/admin/spend` and `gateway spend --json`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.ledger.sqlite_sink import SqliteLedger

from tests.conftest import ROOT, free_port, wait_for

ADMIN_KEY = "admin-e2e-secret"
KEYS = {  # name -> plaintext; the policy holds only their SHA-256
    "team-a": "sk-e2e-team-a",
    "nearly-spent": "sk-e2e-nearly-spent",
    "tiny": "sk-e2e-tiny",
    "paced": "sk-e2e-paced",
}
# DeepSeek's published V3.2 prices (api-docs.deepseek.com/quick_start/pricing, checked 2026-11), USD per Mtok
DEEPSEEK_INPUT, DEEPSEEK_CACHE_HIT, DEEPSEEK_OUTPUT = 0.28, 0.028, 0.42
HELLO = [{"role": "user", "content": "Say hello."}]


def _sha(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def accounting_policy(deepseek_url: str, local_url: str) -> str:
    return f"""
version: 1
backends:
  deepseek:
    type: deepseek
    base_url: {deepseek_url}
    api_key: sk-deepseek-provider-secret
    model: deepseek-v4-flash
    family: deepseek-v3.2
    thinking: true
    price: {{input_usd_per_mtok: {DEEPSEEK_INPUT}, cached_input_usd_per_mtok: {DEEPSEEK_CACHE_HIT}, output_usd_per_mtok: {DEEPSEEK_OUTPUT}}}
  local:
    type: vllm
    base_url: {local_url}
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    thinking: true
    cost: {{gpu_hourly_usd: 3.6, gpus: 8}}
models:
  auto: {{}}
  deepseek-reasoner: {{thinking: true}}
  local-first: {{}}
routes:
  - {{name: frugal, when: {{budget_remaining_usd: {{lt: 5}}}}, use: [local]}}
  - {{name: local-first, when: {{model: local-first}}, use: [local, deepseek], prefer: order}}
  - {{name: default, use: [deepseek]}}
fallback:
  on: [connect_error, timeout, rate_limited, server_error]
  circuit_breaker: {{enabled: false}}
keys:
  - {{name: team-a, sha256: "{_sha(KEYS['team-a'])}", tags: [internal], budgets: {{daily_usd: 100}}}}
  - {{name: nearly-spent, sha256: "{_sha(KEYS['nearly-spent'])}", budgets: {{total_usd: 4}}}}
  - {{name: tiny, sha256: "{_sha(KEYS['tiny'])}", budgets: {{total_usd: 0.000001}}}}
  - {{name: paced, sha256: "{_sha(KEYS['paced'])}", rpm: 2}}
"""


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


class Setup:
    def __init__(self, servers: Any, tmp: Path) -> None:
        self.deepseek = servers.emulator("deepseek", "--seed", "7")
        self.local = servers.emulator("vllm", "--seed", "7")
        self.keys_file = tmp / "keys.json"
        self.ledger = tmp / "ledger.sqlite3"
        env = {"SWITCHYARD_KEYS_FILE": str(self.keys_file)}
        created = _cli("keys", "create", "--name", "cli-made", "--tags", "batch", "--budget-usd-month", "50", env=env)
        assert created.returncode == 0, created.stderr
        self.cli_key = created.stdout.strip()
        self.gateway = servers.gateway(
            accounting_policy(self.deepseek.v1, self.local.v1),
            env={**env, "SWITCHYARD_LEDGER_PATH": str(self.ledger), "SWITCHYARD_ADMIN_KEY": ADMIN_KEY},
        )

    def client(self, key: str | None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.gateway.v1, api_key=key or "none", max_retries=0)

    def admin(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.gateway.url}{path}", params=params, headers={"authorization": f"Bearer {ADMIN_KEY}"})
        response.raise_for_status()
        return response.json()

    def records(self, **params: Any) -> list[dict[str, Any]]:
        return self.admin("/admin/usage", **params)["data"]


@pytest.fixture(scope="module")
def setup(servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(servers, tmp_path_factory.mktemp("accounting"))


def test_start_up_says_how_requests_are_authenticated(setup):
    assert "auth: 5 client key(s); requests need Authorization: Bearer <key>" in setup.gateway.log()


def test_requests_without_a_known_key_get_401(setup):
    for key in (None, "sk-not-a-key"):
        with pytest.raises(openai.AuthenticationError) as caught:
            setup.client(key).chat.completions.create(model="auto", messages=HELLO, max_tokens=5)
        assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        setup.client(None).models.list()


def test_a_key_made_by_gateway_keys_create_is_accepted_and_named_in_the_ledger(setup):
    raw = setup.client(setup.cli_key).chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=5)
    request_id = raw.headers["x-switchyard-request-id"]
    [record] = [r for r in setup.records(key="cli-made") if r["request_id"] == request_id]
    assert (record["backend"], record["ok"], record["fallback_chain"]) == ("deepseek", True, ["deepseek"])
    assert json.loads(setup.keys_file.read_text())["keys"][0]["sha256"] == _sha(setup.cli_key)


def test_admin_endpoints_need_the_admin_key(setup):
    for headers in ({}, {"authorization": f"Bearer {KEYS['team-a']}"}):
        response = httpx.get(f"{setup.gateway.url}/admin/usage", headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "admin_key_required"
    assert "policy" in setup.admin("/admin/status")


def test_the_clients_authorization_header_never_reaches_the_upstream(setup):
    httpx.delete(f"{setup.local.url}/_emulator/requests")
    setup.client(KEYS["team-a"]).chat.completions.create(model="local-first", messages=HELLO, max_tokens=5)
    [sent] = httpx.get(f"{setup.local.url}/_emulator/requests").json()["requests"]
    assert "authorization" not in sent["headers"]  # the vLLM backend has no key of its own, so nothing at all


def test_a_key_over_its_budget_gets_429_budget_exceeded(setup):
    with pytest.raises(openai.RateLimitError) as caught:
        setup.client(KEYS["tiny"]).chat.completions.create(model="auto", messages=HELLO, max_tokens=5)
    assert caught.value.code == "budget_exceeded"
    assert caught.value.body["type"] == "insufficient_quota"
    assert setup.records(key="tiny") == []  # refused before any backend was called


def test_a_key_over_its_rate_gets_429_with_retry_after(setup):
    client = setup.client(KEYS["paced"])
    for _ in range(2):
        client.chat.completions.create(model="auto", messages=HELLO, max_tokens=5)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="auto", messages=HELLO, max_tokens=5)
    assert caught.value.code == "rate_limit_exceeded"
    assert int(caught.value.response.headers["retry-after"]) >= 1


def test_a_route_downgrades_when_the_keys_remaining_budget_is_low(setup):
    client = setup.client(KEYS["nearly-spent"])
    first = client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=5)
    assert first.headers["x-switchyard-route"] == "default"  # remaining budget unknown until the key's first request
    second = client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=5)
    assert (second.headers["x-switchyard-route"], second.headers["x-switchyard-backend"]) == ("frugal", "local")
    roomy = setup.client(KEYS["team-a"]).chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=5)
    assert roomy.headers["x-switchyard-route"] == "default"


def test_deepseek_cost_with_cache_hits_and_reasoning_tokens_matches_a_hand_computation(setup):
    client = setup.client(KEYS["team-a"])
    messages = [{"role": "system", "content": "You are a careful assistant. " * 60}, *HELLO]
    client.chat.completions.create(model="deepseek-reasoner", messages=messages, max_tokens=24)  # fills the cache
    raw = client.chat.completions.with_raw_response.create(model="deepseek-reasoner", messages=messages, max_tokens=24)
    usage = raw.parse().usage.model_dump()
    prompt, hit, completion = usage["prompt_tokens"], usage["prompt_cache_hit_tokens"], usage["completion_tokens"]
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    assert hit > 0 and reasoning > 0
    # nano-USD per token = USD per Mtok x 1000; reasoning tokens are inside completion_tokens, billed as output
    expected_nano = (prompt - hit) * 280 + hit * 28 + completion * 420
    [record] = [r for r in setup.records(key="team-a") if r["request_id"] == raw.headers["x-switchyard-request-id"]]
    assert (record["prompt_tokens"], record["cached_tokens"], record["completion_tokens"], record["reasoning_tokens"]) == (
        prompt, hit, completion, reasoning)
    assert record["cost_nano_usd"] == expected_nano
    assert raw.headers["x-switchyard-cost-usd"] == f"{expected_nano / 1e9:.8f}"
    assert record["self_hosted_cost_nano_usd"] is None
    assert record["ttft_ms"] is None  # not streamed: no first token was seen


def test_every_attempt_is_recorded_with_the_fallback_chain_streamed_or_not(setup):
    httpx.post(f"{setup.local.url}/_emulator/config", json={"fail_rate": 1.0, "fail_mode": "500"}).raise_for_status()
    try:
        client = setup.client(KEYS["team-a"])
        plain = client.chat.completions.with_raw_response.create(model="local-first", messages=HELLO, max_tokens=5)
        streamed = client.chat.completions.with_raw_response.create(model="local-first", messages=HELLO, max_tokens=5,
                                                                    stream=True)
        chunks = list(streamed.parse())
    finally:
        httpx.post(f"{setup.local.url}/_emulator/config", json={"fail_rate": 0.0}).raise_for_status()
    assert chunks
    records = setup.records(key="team-a")
    for raw, was_streamed in ((plain, False), (streamed, True)):
        mine = sorted((r for r in records if r["request_id"] == raw.headers["x-switchyard-request-id"]), key=lambda r: r["attempt"])
        assert [(r["attempt"], r["backend"], r["ok"], r["status"], r["error_kind"], r["fallback_chain"], r["streamed"])
                for r in mine] == [
            (1, "local", False, 500, "server_error", ["local"], was_streamed),
            (2, "deepseek", True, 200, None, ["local", "deepseek"], was_streamed),
        ]
        assert (mine[1]["ttft_ms"] is not None) is was_streamed


def test_spend_by_backend_adds_up_exactly_to_the_records(setup):
    records = setup.records(limit=10_000)
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in records:
        row = sums[r["backend"]]
        for field in ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens"):
            row[field] += r[field]
        row["cost_nano_usd"] += r["cost_nano_usd"] or 0
        row["self_hosted_cost_nano_usd"] += r["self_hosted_cost_nano_usd"] or 0
        row["attempts"] += 1
    done = _cli("spend", "--by", "backend", "--json", "--db", str(setup.ledger))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {row["group"] for row in report["rows"]} == {"deepseek", "local"}
    for row in report["rows"]:
        assert {field: row[field] for field in sums[row["group"]]} == sums[row["group"]]
    assert report["total"]["attempts"] == len(records)
    assert report["total"]["cost_nano_usd"] == sum(s["cost_nano_usd"] for s in sums.values())
    assert report["baselines"] and report["baselines"][0]["family"] == "deepseek-v3.2"
    assert setup.admin("/admin/spend", by="backend") == report
    table = _cli("spend", "--by", "backend", "--db", str(setup.ledger))
    assert "savings baseline for deepseek-v3.2" in table.stdout


def test_metrics_count_what_the_ledger_recorded(setup):
    text = httpx.get(f"{setup.gateway.url}/metrics").text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    records = setup.records(limit=10_000)
    assert sum(v for (name, _), v in samples.items() if name == "switchyard_requests_total") == len(records)
    cached = sum(r["cached_tokens"] for r in records if r["backend"] == "deepseek" and r["key_name"] == "team-a")
    assert samples[("switchyard_tokens_total", (("backend", "deepseek"), ("key", "team-a"), ("type", "cached")))] == cached
    assert samples[("switchyard_fallbacks_total", (("backend", "deepseek"), ("route", "local-first")))] == 2
    assert samples[("switchyard_circuit_open", (("backend", "local"),))] == 0
    assert 0 < samples[("switchyard_budget_remaining_usd", (("key", "nearly-spent"),))] < 4
    assert any(name == "switchyard_gateway_overhead_seconds_count" for name, _ in samples)
    assert any(name == "switchyard_time_to_first_token_seconds_count" for name, _ in samples)


def test_records_still_in_memory_are_stored_when_the_gateway_is_stopped_with_sigterm(servers, tmp_path):
    slow = servers.emulator("vllm", "--ttft-ms", "0", "--tpot-ms", "50", name="slow")
    ledger = tmp_path / "ledger.sqlite3"
    policy = accounting_policy(slow.v1, slow.v1).split("keys:")[0]
    gateway = servers.gateway(policy, env={"SWITCHYARD_LEDGER_PATH": str(ledger), "SWITCHYARD_LEDGER_FLUSH_INTERVAL_S": "600"})
    body = {"model": "local-first", "messages": HELLO, "max_tokens": 200, "stream": True}
    with httpx.stream("POST", f"{gateway.v1}/chat/completions", json=body, timeout=10) as response:
        request_id = response.headers["x-switchyard-request-id"]
        next(response.iter_bytes())  # the first tokens, then the client goes away
    wait_for(lambda: "switchyard_ledger_buffered_records 1.0" in httpx.get(f"{gateway.url}/metrics").text,
             "the abandoned stream's record to be queued")
    assert "accepting unauthenticated requests because 127.0.0.1 is a loopback address" in gateway.log()
    gateway.stop()  # SIGTERM
    assert gateway.process.returncode == 0
    [record] = SqliteLedger(ledger, create=False).records()
    assert (record.request_id, record.backend, record.streamed, record.ok, record.error_kind) == (
        request_id, "local", True, False, "client_disconnected")
