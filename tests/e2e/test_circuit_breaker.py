"""The circuit breaker on a running gateway: opens after N consecutive failures (with a window of 2N
attempts the failure-rate gate agrees), then lets exactly one trial request through after the
cool-down; the trial's success closes it, its failure re-opens it."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.slow

FAILURES = 3
HELLO = [{"role": "user", "content": "Hello?"}]


def _policy(primary: str, secondary: str) -> str:
    return f"""
version: 1
backends:
  primary: {{type: vllm, base_url: "{primary}", model: deepseek-ai/DeepSeek-V3.2, family: deepseek-v3.2}}
  secondary: {{type: novita, base_url: "{secondary}", api_key: sk-cb, model: deepseek/deepseek-v3.2, family: deepseek-v3.2}}
models: {{auto: {{}}}}
routes: [{{name: default, use: [primary, secondary], prefer: order}}]
fallback:
  on: [connect_error, timeout, rate_limited, server_error]
  circuit_breaker: {{consecutive_failures: {FAILURES}, minimum_attempts: {FAILURES}, window_attempts: {2 * FAILURES}, cooldown_s: 1}}
"""


@pytest.fixture(scope="module")
def stack(servers) -> Stack:
    emulators = {"primary": servers.emulator("vllm", name="cb-primary"), "secondary": servers.emulator("novita", name="cb-secondary")}
    gateway = servers.gateway(_policy(emulators["primary"].v1, emulators["secondary"].v1))
    return Stack(gateway, emulators)


@pytest.fixture()
def client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.gateway.v1, api_key="sk-client", max_retries=0)


def _served_by(client: openai.OpenAI) -> str:
    return client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=2).headers["x-switchyard-backend"]


def _circuit(stack: Stack) -> str:
    return httpx.get(f"{stack.gateway.url}/admin/status").json()["backends"]["primary"]["circuit"]


def _primary_verdict(stack: Stack) -> dict:
    body = {"model": "auto", "messages": HELLO}
    report = httpx.post(f"{stack.gateway.v1}/route/explain", json=body).json()
    return next(c for c in report["candidates"] if c["backend"] == "primary")


def _open_the_circuit(stack: Stack, client: openai.OpenAI) -> None:
    stack.set_faults("primary", fail_rate=1.0, fail_mode="500", ttft_ms=0)
    stack.clear_requests()
    assert [_served_by(client) for _ in range(FAILURES)] == ["secondary"] * FAILURES
    assert len(stack.upstream_requests("primary")) == FAILURES
    assert _circuit(stack) == "open"


def test_circuit_opens_after_consecutive_failures_and_half_open_admits_exactly_one_trial(stack, client):
    _open_the_circuit(stack, client)
    assert _primary_verdict(stack) == {"backend": "primary", "kept": False, "reason": "circuit open", "expected_cost_usd": 0.0,
                                       "latency_ms": None, "sampled_latency_ms": None, "exploration": False}
    assert _served_by(client) == "secondary"
    assert len(stack.upstream_requests("primary")) == FAILURES  # open: not even tried

    stack.set_faults("primary", fail_rate=0.0, ttft_ms=500)  # healthy again, and slow enough to overlap the trial
    wait_for(lambda: _primary_verdict(stack)["kept"], "the cool-down to end (half-open)")
    assert _circuit(stack) == "half_open"
    with ThreadPoolExecutor(max_workers=6) as pool:
        served = Counter(pool.map(lambda _: _served_by(client), range(6)))
    assert served == {"primary": 1, "secondary": 5}  # one trial; the others went on down the chain
    assert len(stack.upstream_requests("primary")) == FAILURES + 1
    assert _circuit(stack) == "closed"  # the trial succeeded
    stack.set_faults("primary", ttft_ms=0)
    assert _served_by(client) == "primary"


def test_a_failed_trial_reopens_the_circuit(stack, client):
    _open_the_circuit(stack, client)
    wait_for(lambda: _primary_verdict(stack)["kept"], "the cool-down to end (half-open)")
    assert _served_by(client) == "secondary"  # the trial failed over to secondary...
    assert len(stack.upstream_requests("primary")) == FAILURES + 1
    assert _circuit(stack) == "open"  # ...and re-opened the circuit for another cool-down
    assert _served_by(client) == "secondary"
    assert len(stack.upstream_requests("primary")) == FAILURES + 1
    stack.set_faults("primary", fail_rate=0.0)
    wait_for(lambda: _primary_verdict(stack)["kept"], "the second cool-down to end")
    assert _served_by(client) == "primary" and _circuit(stack) == "closed"
