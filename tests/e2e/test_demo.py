"""`gateway serve --demo` (what `make run` starts): a streamed answer, then fallback when the
emulated self-hosted backend is stopped."""

from __future__ import annotations

import httpx
import openai
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(servers):
    return servers.demo_gateway()


def test_demo_streams_an_answer_from_the_self_hosted_backend(demo):
    client = openai.OpenAI(base_url=demo.v1, api_key="unused", max_retries=0)
    with client.chat.completions.with_streaming_response.create(
        model="auto", messages=[{"role": "user", "content": "Hello!"}], stream=True, max_tokens=5
    ) as response:
        backend = response.headers["x-switchyard-backend"]
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert backend == "local-v32"
    assert len(text.split()) == 5


def test_demo_falls_back_when_the_self_hosted_backend_stops(demo):
    client = openai.OpenAI(base_url=demo.v1, api_key="unused", max_retries=0)
    stopped = httpx.post(f"{demo.url}/demo/backends/local-v32/stop").json()
    assert stopped == {"backend": "local-v32", "running": False, "url": stopped["url"]}
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "Still there?"}], max_tokens=3
        )
        assert raw.headers["x-switchyard-backend"] == "novita-v32"
        assert raw.parse().choices[0].message.content
    finally:
        assert httpx.post(f"{demo.url}/demo/backends/local-v32/start").json()["running"] is True
    again = client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": "Back?"}], max_tokens=2)
    assert again.headers["x-switchyard-backend"] == "local-v32"


def test_demo_thinking_request_goes_to_terminus(demo):
    client = openai.OpenAI(base_url=demo.v1, api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="deepseek-reasoner", messages=[{"role": "user", "content": "Think."}], max_tokens=12
    )
    assert raw.headers["x-switchyard-backend"] == "fireworks-terminus"
    assert raw.parse().choices[0].message.reasoning_content


def test_demo_auto_sends_a_proof_to_the_thinking_route_and_a_greeting_to_the_default_one(demo):
    """docs/thinking.md's snippet: `make run`, then model="auto" with no thinking parameter."""
    client = openai.OpenAI(base_url=demo.v1, api_key="unused", max_retries=0)
    proof = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Prove that there are infinitely many primes."}], max_tokens=8
    )
    greeting = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Hello! Who are you?"}], max_tokens=4
    )
    assert (proof.headers["x-switchyard-route"], proof.headers["x-switchyard-backend"]) == ("reasoning", "fireworks-terminus")
    assert proof.parse().choices[0].message.reasoning_content
    assert (greeting.headers["x-switchyard-route"], greeting.headers["x-switchyard-backend"]) == ("default", "local-v32")
    assert getattr(greeting.parse().choices[0].message, "reasoning_content", None) is None
