"""policies/default.yaml over emulated backends: the self-hosted vLLM fills first, the overflow
spills to the cheapest managed provider while its /metrics says it is full, and traffic returns
when it drains. Thinking is switched per provider along the way, also across a fallback."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import openai
import pytest

from tests.conftest import ROOT, wait_for
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.slow

LOCAL_SLOTS = 4  # --max-concurrency of the emulated vLLM: 4 running requests fill its KV cache
HELLO = [{"role": "user", "content": "Summarise the plot of Hamlet in three sentences."}]
SATURATED = "saturated: kv_usage 1.00 >= max_kv_usage 0.90"


@pytest.fixture(scope="module")
def stack(servers) -> Stack:
    emulators = {
        "local-v32": servers.emulator("vllm", "--max-concurrency", str(LOCAL_SLOTS), "--ttft-ms", "0", "--tpot-ms", "25",
                                      name="local-v32"),
        "novita-v32": servers.emulator("novita", name="novita-v32"),
        "fireworks-terminus": servers.emulator("fireworks", name="fireworks-terminus"),
        "deepseek-api": servers.emulator("deepseek", name="deepseek-api"),
    }
    env = {
        "VLLM_BASE_URL": emulators["local-v32"].v1,
        "NOVITA_BASE_URL": emulators["novita-v32"].v1,
        "FIREWORKS_BASE_URL": emulators["fireworks-terminus"].v1,
        "DEEPSEEK_BASE_URL": emulators["deepseek-api"].v1,
        "NOVITA_API_KEY": "sk-novita-spill", "FIREWORKS_API_KEY": "sk-fw-spill", "DEEPSEEK_API_KEY": "sk-ds-spill",
        "SWITCHYARD_SCRAPE_INTERVAL_S": "0.25",  # 2 s in production; faster here to keep the suite quick
    }
    gateway = servers.gateway((ROOT / "policies" / "default.yaml").read_text(), env=env)
    return Stack(gateway, emulators)


@pytest.fixture()
def client(stack) -> openai.OpenAI:
    stack.clear_requests()
    return openai.OpenAI(base_url=stack.gateway.v1, api_key="sk-client", max_retries=0)


def _explain(stack: Stack, body: dict | None = None) -> dict:
    body = body or {"model": "auto", "messages": HELLO, "max_tokens": 8}
    return httpx.post(f"{stack.gateway.v1}/route/explain", json=body, timeout=10).json()


def _local_verdict(stack: Stack) -> dict:
    return next(c for c in _explain(stack)["candidates"] if c["backend"] == "local-v32")


def _hold_local_slots(stack: Stack, exits: ExitStack) -> list[str]:
    """Open one long stream per local slot (each starts before the next); their backends."""
    body = {"model": "auto", "messages": HELLO, "max_tokens": 400, "stream": True}  # ~10 s each if not closed
    backends = []
    for _ in range(LOCAL_SLOTS):
        response = exits.enter_context(httpx.stream("POST", f"{stack.gateway.v1}/chat/completions", json=body, timeout=30))
        backends.append(response.headers["x-switchyard-backend"])
    return backends


def _burst(client: openai.OpenAI, count: int, max_tokens: int = 8) -> Counter[str]:
    def one(_: int) -> str:
        raw = client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=max_tokens)
        return raw.headers["x-switchyard-backend"]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return Counter(pool.map(one, range(count)))


def test_overflow_spills_to_the_cheapest_managed_provider_and_returns_when_local_drains(stack, client):
    with ExitStack() as exits:
        assert _hold_local_slots(stack, exits) == ["local-v32"] * LOCAL_SLOTS  # the rest stays local
        verdict = wait_for(lambda: (v := _local_verdict(stack))["reason"] == SATURATED and v, "the scrape to see a full vLLM")
        assert verdict["kept"] is False
        decision = _explain(stack)
        managed_costs = {c["backend"]: c["expected_cost_usd"] for c in decision["candidates"] if c["backend"] != "local-v32"}
        assert decision["chain"][0] == "novita-v32" == min(managed_costs, key=managed_costs.get)
        assert _burst(client, 12) == {"novita-v32": 12}  # the overflow: all to the cheapest managed provider
        assert len(stack.upstream_requests("local-v32")) == LOCAL_SLOTS
        assert {r["body"]["enable_thinking"] for r in stack.upstream_requests("novita-v32")} == {False}
    # the streams are closed: the emulated vLLM drains and local takes the traffic back
    wait_for(lambda: _local_verdict(stack)["kept"], "the scrape to see vLLM drained")
    assert _burst(client, 3) == {"local-v32": 3}
    assert stack.upstream_requests("fireworks-terminus") == [] and stack.upstream_requests("deepseek-api") == []


def test_sustained_overload_is_served_by_local_and_the_cheapest_managed_provider_only(stack, client):
    wait_for(lambda: _local_verdict(stack)["kept"], "an idle vLLM")
    served = _burst(client, 32, max_tokens=40)  # 32 at once, 1 s each on 4 local slots
    assert set(served) == {"local-v32", "novita-v32"}
    assert sum(served.values()) == 32
    print(f"\nsustained overload, 32 concurrent requests: {dict(served)}")


def test_admin_status_shows_the_scraped_load_and_health(stack):
    status = httpx.get(f"{stack.gateway.url}/admin/status").json()
    local = status["backends"]["local-v32"]
    assert local["healthy"] is True and local["circuit"] == "closed" and local["scrape_error"] is None
    assert local["kv_usage"] is not None and local["waiting"] is not None
    assert status["backends"]["novita-v32"]["scraped_at"] is None  # managed providers have no /metrics
    assert status["policy"]["watching"] is True
    for key in ("sk-novita-spill", "sk-fw-spill", "sk-ds-spill"):  # probed with the keys, never shown
        assert key not in str(status) and key not in stack.gateway.log()


def test_thinking_request_goes_to_terminus_with_fireworks_own_switch(stack, client):
    completion = client.chat.completions.create(model="deepseek-reasoner", messages=HELLO, max_tokens=12)
    assert completion.choices[0].message.reasoning_content
    sent = stack.upstream_requests("fireworks-terminus")[-1]["body"]
    assert sent["reasoning_effort"] == "medium" and "chat_template_kwargs" not in sent  # the provider's default effort


def test_thinking_request_falling_back_from_fireworks_switches_thinking_on_with_vllms_parameter(stack, client):
    stack.set_faults("fireworks-terminus", fail_rate=1.0, fail_mode="500")
    try:
        with client.chat.completions.with_streaming_response.create(
            model="deepseek-reasoner", messages=HELLO, max_tokens=12, stream=True
        ) as response:
            assert response.headers["x-switchyard-backend"] == "local-v32"
            chunks = list(response.parse())
    finally:
        stack.set_faults("fireworks-terminus", fail_rate=0.0)
    assert any(getattr(c.choices[0].delta, "reasoning_content", None) for c in chunks if c.choices)
    tried = stack.upstream_requests("fireworks-terminus")[-1]["body"]
    fallback = stack.upstream_requests("local-v32")[-1]["body"]
    assert tried["reasoning_effort"] == "medium"
    assert fallback["chat_template_kwargs"] == {"thinking": True} and "reasoning_effort" not in fallback
