"""`prefer: latency` on a running gateway: emulated vLLM backends whose TTFT the tests set and change live
(`POST /_emulator/config`); the gateway's routing draws are seeded (SWITCHYARD_ROUTING_SEED).

Each test has its own pair of backend names (the gateway learns per backend name), so their order
does not matter; the streamed and non-streamed pairs point at the same two emulators."""

from __future__ import annotations

from collections import Counter

import httpx
import openai
import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.slow

HELLO = [{"role": "user", "content": "Hello?"}]
REQUESTS = 30


def _backend(name: str, url: str) -> str:
    return f'  {name}: {{type: vllm, base_url: "{url}", model: deepseek-ai/DeepSeek-V3.2, family: deepseek-v3.2}}'


def _policy(urls: dict[str, str]) -> str:
    backends = [("slow-stream", "slow"), ("fast-stream", "fast"), ("slow-answer", "slow"), ("fast-answer", "fast"),
                ("steady", "steady"), ("shifty", "shifty")]
    lines = "\n".join(_backend(name, urls[emulator]) for name, emulator in backends)
    return f"""
version: 1
backends:
{lines}
models: {{streamed: {{}}, answered: {{}}, shifting: {{}}}}
routes:
  - {{name: streamed, when: {{model: streamed}}, use: [slow-stream, fast-stream], prefer: latency}}
  - {{name: answered, when: {{model: answered}}, use: [slow-answer, fast-answer], prefer: latency}}
  - {{name: shifting, when: {{model: shifting}}, use: [steady, shifty], prefer: latency}}
"""


@pytest.fixture(scope="module")
def stack(servers) -> Stack:
    ttft_ms = {"slow": 150, "fast": 10, "steady": 100, "shifty": 10}
    emulators = {name: servers.emulator("vllm", "--ttft-ms", str(ms), "--tpot-ms", "1", name=f"latency-{name}")
                 for name, ms in ttft_ms.items()}
    gateway = servers.gateway(_policy({name: e.v1 for name, e in emulators.items()}),
                              env={"SWITCHYARD_ROUTING_SEED": "12"})
    return Stack(gateway, emulators)


@pytest.fixture()
def client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.gateway.v1, api_key="sk-client", max_retries=0)


def _served_by(client: openai.OpenAI, model: str, stream: bool) -> str:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO, max_tokens=4, stream=stream)
    answer = raw.parse()
    if stream:
        assert "".join(chunk.choices[0].delta.content or "" for chunk in answer if chunk.choices)
    else:
        assert answer.choices[0].message.content
    return raw.headers["x-switchyard-backend"]


@pytest.mark.parametrize(("model", "stream", "fast"), [("streamed", True, "fast-stream"), ("answered", False, "fast-answer")])
def test_the_faster_backend_listed_last_is_found_within_30_requests(client, model, stream, fast):
    served = [_served_by(client, model, stream) for _ in range(REQUESTS)]
    print(f"{model}: {''.join('F' if b == fast else 's' for b in served)}")
    assert fast in served
    assert Counter(served[-10:])[fast] >= 8  # found, and then it keeps the traffic


def test_a_backend_that_slows_from_10_to_400_ms_loses_most_of_the_next_30_requests(client, stack):
    learned = [_served_by(client, "shifting", True) for _ in range(REQUESTS)]
    assert Counter(learned[-10:])["shifty"] >= 8
    httpx.post(f"{stack.emulators['shifty'].url}/_emulator/config", json={"ttft_ms": 400}).raise_for_status()
    after = [_served_by(client, "shifting", True) for _ in range(REQUESTS)]
    print(f"before: {''.join(b[1] for b in learned)}  after: {''.join(b[1] for b in after)} (t: steady, h: shifty)")
    assert Counter(after)["steady"] > REQUESTS // 2


def test_explain_shows_each_candidates_figure_and_the_exploration_flag(client, stack):
    for _ in range(3):
        _served_by(client, "streamed", True)
    body = {"model": "streamed", "stream": True, "max_tokens": 4, "messages": HELLO}
    report = httpx.post(f"{stack.gateway.url}/v1/route/explain", json=body).raise_for_status().json()
    figures = {c["backend"]: c["latency_ms"] for c in report["candidates"]}
    assert set(figures) == {"slow-stream", "fast-stream"} and all(ms > 0 for ms in figures.values())
    assert figures["fast-stream"] < figures["slow-stream"]
    assert isinstance(report["exploration"], bool)
    first = report["candidates"][0]
    assert first["exploration"] == report["exploration"] == (first["backend"] != "fast-stream")
