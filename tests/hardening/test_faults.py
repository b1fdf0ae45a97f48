"""Fault injection over every emulator fault mode, seen from the client (the openai SDK), the
upstreams (their request logs), the circuit breaker (/admin/status) and the usage ledger
(/admin/usage: one record per upstream attempt, failed ones included).

The end-to-end fallback tests check that each mode falls back; these check what each mode leaves
behind. The "refused" backend is an emulator stopped after the gateway saw it healthy (health
probes are slowed down so it stays "healthy"): its attempts get connect refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import ServerLauncher, wait_for
from tests.hardening.conftest import (
    ADMIN_KEY, CLIENT_KEY, FAILURES, HELLO, HardenedStack, gateway_env, hardening_policy, start_gateway,
)

pytestmark = pytest.mark.slow

# mode -> (error_kind, upstream status) of the failed primary attempt in the ledger
FALLBACK_MODES = {
    "500": ("server_error", 500),
    "429": ("rate_limited", 429),
    "timeout": ("timeout", None),
    "reset": ("server_error", None),
    "malformed": ("server_error", None),
    "error-body": ("server_error", None),
}


HEALTH_INTERVAL_S = 3600  # one probe at start, none during the tests


def _with_refused_backend(policy: str, refused_url: str) -> str:
    backend = f"  refused: {{type: vllm, base_url: '{refused_url}', model: m, family: deepseek-v3.2}}\n"
    route = "  - {name: refused-first, when: {model: via-refused}, use: [refused, secondary]}\n"
    return (policy.replace("backends:\n", "backends:\n" + backend, 1)
            .replace("  via-secondary: {}\n", "  via-secondary: {}\n  via-refused: {}\n", 1)
            .replace("routes:\n", "routes:\n" + route, 1))


@pytest.fixture(scope="module")
def faults_stack(hardened_stack: HardenedStack, servers: ServerLauncher, tmp_path_factory: pytest.TempPathFactory) -> HardenedStack:
    """The shared emulators behind a gateway of their own whose circuit breaker is on."""
    emulators = hardened_stack.emulators
    policy = hardening_policy(emulators["primary"].v1, emulators["secondary"].v1,
                              circuit=f"{{consecutive_failures: {FAILURES}, minimum_attempts: {FAILURES}, "
                                      f"window_attempts: {2 * FAILURES}, cooldown_s: 1}}")
    refused = servers.emulator("vllm", name="faults-refused")
    policy = _with_refused_backend(policy, refused.v1)
    env = gateway_env(tmp_path_factory.mktemp("faults"), SWITCHYARD_HEALTH_INTERVAL_S=str(HEALTH_INTERVAL_S))
    gateway = start_gateway(servers, policy, env, log_level="info")
    return HardenedStack(gateway, {**emulators, "refused": refused})


@pytest.fixture()
def stack(faults_stack: HardenedStack) -> Iterator[HardenedStack]:
    _reset(faults_stack)
    yield faults_stack
    _reset(faults_stack)
    _heal(faults_stack, "primary")


def _reset(stack: HardenedStack) -> None:
    for name in ("primary", "secondary"):
        stack.set_faults(name, fail_rate=0.0, ttft_ms=0, tpot_ms=0)
    stack.clear_requests()


@pytest.fixture()
def client(faults_stack: HardenedStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=faults_stack.gateway.v1, api_key=CLIENT_KEY, max_retries=0)


def _circuit(stack: HardenedStack, backend: str) -> str:
    status = httpx.get(f"{stack.gateway.url}/admin/status", headers={"authorization": f"Bearer {ADMIN_KEY}"}).json()
    return status["backends"][backend]["circuit"]


def _kept_for(stack: HardenedStack, model: str, backend: str) -> bool:
    body = {"model": model, "messages": HELLO}
    report = httpx.post(f"{stack.gateway.v1}/route/explain", json=body, headers=stack.client_headers)
    return next(c for c in report.json()["candidates"] if c["backend"] == backend)["kept"]


def _kept(stack: HardenedStack, backend: str) -> bool:
    return _kept_for(stack, "auto", backend)


def _heal(stack: HardenedStack, backend: str) -> None:
    """After a test that failed the backend on purpose: one success (after the cool-down if the circuit
    is open), so the next test starts with a closed circuit and no failures counted."""
    wait_for(lambda: _kept(stack, backend), f"{backend}'s cool-down")
    response = httpx.post(f"{stack.gateway.v1}/chat/completions", json={"model": "auto", "messages": HELLO, "max_tokens": 1},
                          headers=stack.client_headers)
    assert response.headers["x-switchyard-backend"] == backend and _circuit(stack, backend) == "closed"


def _create(client: openai.OpenAI, *, stream: bool, model: str = "auto") -> tuple[str, str, str]:
    """(request id, backend, text) of one request through the SDK."""
    kwargs = {"model": model, "messages": HELLO, "max_tokens": 4, "stream": stream}
    with client.chat.completions.with_streaming_response.create(**kwargs) as response:
        request_id, backend = response.headers["x-switchyard-request-id"], response.headers["x-switchyard-backend"]
        parsed = response.parse()
        if stream:
            text = "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
        else:
            text = parsed.choices[0].message.content
    return request_id, backend, text


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("mode", list(FALLBACK_MODES))
def test_a_fault_before_the_first_token_falls_back_and_both_attempts_are_in_the_ledger(stack, client, mode, stream):
    stack.set_faults("primary", fail_rate=1.0, fail_mode=mode)
    request_id, backend, text = _create(client, stream=stream)
    assert backend == "secondary" and len(text.split()) == 4
    assert len(stack.upstream_requests("primary")) == 1 and len(stack.upstream_requests("secondary")) == 1
    failed, served = stack.wait_for_usage(request_id, 2)
    kind, status = FALLBACK_MODES[mode]
    assert (failed["backend"], failed["ok"], failed["error_kind"]) == ("primary", False, kind)
    if status is not None:
        assert failed["status"] == status
    assert (served["backend"], served["ok"], served["completion_tokens"]) == ("secondary", True, 4)
    assert served["fallback_chain"] == ["primary", "secondary"] and served["streamed"] is stream
    assert served["cost_usd"] > 0 and failed["completion_tokens"] == 0


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_refused_connection_falls_back_and_is_recorded(stack, client, stream):
    assert _kept_for(stack, "via-refused", "refused")  # seen healthy...
    stack.emulators["refused"].stop()  # ...and gone: connect refused from here on
    request_id, backend, _ = _create(client, stream=stream, model="via-refused")
    assert backend == "secondary"
    failed, served = stack.wait_for_usage(request_id, 2)
    assert (failed["backend"], failed["ok"], failed["error_kind"]) == ("refused", False, "connect_error")
    assert served["ok"] and served["fallback_chain"] == ["refused", "secondary"]


def test_slow_tokens_are_waited_for_and_recorded_as_a_success(stack, client):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="slow", slow_ms=20)
    request_id, backend, text = _create(client, stream=True)
    assert backend == "primary" and len(text.split()) == 4
    [record] = stack.wait_for_usage(request_id, 1)
    assert record["ok"] and record["ttft_ms"] >= 20 and record["latency_ms"] >= record["ttft_ms"]


def test_a_reset_mid_stream_reaches_the_sdk_as_an_error_and_is_recorded_as_a_failure(stack, client):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="midstream")
    received: list[str] = []
    with pytest.raises(openai.APIError, match="mid-stream"):
        with client.chat.completions.with_streaming_response.create(model="auto", messages=HELLO, max_tokens=10, stream=True) as response:
            request_id = response.headers["x-switchyard-request-id"]
            for chunk in response.parse():
                received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received)  # some content arrived first, so no fallback was possible
    [record] = stack.wait_for_usage(request_id, 1)
    assert (record["backend"], record["ok"], record["error_kind"]) == ("primary", False, "midstream")
    assert stack.upstream_requests("secondary") == []


@pytest.mark.parametrize(
    ("mode", "error", "status"),
    [
        ("500", openai.InternalServerError, 502),
        ("429", openai.RateLimitError, 429),
        ("timeout", openai.APIStatusError, 504),
        ("error-body", openai.InternalServerError, 502),
    ],
)
def test_a_fault_no_fallback_can_absorb_reaches_the_sdk_as_its_error_and_is_recorded(stack, client, mode, error, status):
    stack.set_faults("secondary", fail_rate=1.0, fail_mode=mode)
    with pytest.raises(error) as caught:  # streamed: a timeout is the first-token one, not the total
        client.chat.completions.with_raw_response.create(model="via-secondary", messages=HELLO, max_tokens=2, stream=True)
    assert caught.value.status_code == status
    assert caught.value.body["type"] in ("upstream_error", "rate_limit_error")
    if mode == "429":
        assert caught.value.response.headers["retry-after"] == "1"
    request_id = caught.value.response.headers["x-switchyard-request-id"]
    [record] = stack.wait_for_usage(request_id, 1)
    assert (record["backend"], record["ok"]) == ("secondary", False)
    stack.set_faults("secondary", fail_rate=0.0)
    client.chat.completions.create(model="via-secondary", messages=HELLO, max_tokens=1)  # resets its failure count


@pytest.mark.parametrize("mode", list(FALLBACK_MODES))
def test_the_circuit_opens_on_repeated_faults_and_recovers(stack, client, mode):
    stack.set_faults("primary", fail_rate=1.0, fail_mode=mode)
    assert [_create(client, stream=True)[1] for _ in range(FAILURES)] == ["secondary"] * FAILURES
    assert _circuit(stack, "primary") == "open"
    request_id, backend, _ = _create(client, stream=True)
    assert backend == "secondary" and len(stack.upstream_requests("primary")) == FAILURES  # open: not even tried
    [record] = stack.wait_for_usage(request_id, 1)  # a skipped backend is no attempt, so no record
    assert record["backend"] == "secondary" and record["fallback_chain"] == ["secondary"]
    stack.set_faults("primary", fail_rate=0.0)
    wait_for(lambda: _kept(stack, "primary"), "the cool-down to end (half-open)")
    assert _create(client, stream=False)[1] == "primary"  # the trial succeeds...
    assert _circuit(stack, "primary") == "closed"  # ...and closes the circuit
