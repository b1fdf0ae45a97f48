"""Fallback on every fault mode, mid-stream failure, and a backend that goes away."""

from __future__ import annotations

import httpx
import openai
import orjson
import pytest

pytestmark = pytest.mark.slow

HELLO = [{"role": "user", "content": "Tell me a story."}]
FALLBACK_MODES = ["500", "429", "timeout", "reset", "malformed", "error-body"]


@pytest.fixture()
def stack(fallback_stack):
    fallback_stack.set_faults("primary", fail_rate=0.0)
    fallback_stack.set_faults("secondary", fail_rate=0.0)
    fallback_stack.clear_requests()
    yield fallback_stack
    fallback_stack.set_faults("primary", fail_rate=0.0)
    fallback_stack.set_faults("secondary", fail_rate=0.0)


@pytest.fixture()
def client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.gateway.v1, api_key="sk-client", max_retries=0)


def _sse_events(text: str) -> list[str]:
    return [event for event in text.split("\n\n") if event.strip()]


def test_healthy_primary_serves(client):
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=3)
    assert raw.headers["x-switchyard-backend"] == "primary"


@pytest.mark.parametrize("mode", FALLBACK_MODES)
def test_non_streaming_request_falls_back_on_fault(client, stack, mode):
    stack.set_faults("primary", fail_rate=1.0, fail_mode=mode)
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=3)
    assert raw.headers["x-switchyard-backend"] == "secondary"
    assert raw.parse().usage.completion_tokens == 3
    assert len(stack.upstream_requests("primary")) == 1


@pytest.mark.parametrize("mode", FALLBACK_MODES)
def test_streaming_request_falls_back_on_fault_before_first_content(client, stack, mode):
    stack.set_faults("primary", fail_rate=1.0, fail_mode=mode)
    with client.chat.completions.with_streaming_response.create(
        model="auto", messages=HELLO, max_tokens=4, stream=True
    ) as response:
        assert response.headers["x-switchyard-backend"] == "secondary"
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert len(text.split()) == 4


def test_midstream_failure_ends_the_stream_with_an_error_event_and_no_done(stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="midstream")
    body = {"model": "auto", "messages": HELLO, "max_tokens": 10, "stream": True}
    with httpx.stream("POST", f"{stack.gateway.v1}/chat/completions", json=body, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["x-switchyard-backend"] == "primary"
        events = _sse_events(response.read().decode())
    assert any('"content":' in e for e in events[:-1])  # content reached the client first
    last = events[-1]
    assert last.startswith("event: error\ndata: ")
    error = orjson.loads(last.split("data: ", 1)[1])["error"]
    assert error["code"] == "midstream" and error["type"] == "upstream_error" and "primary" in error["message"]
    assert "[DONE]" not in "".join(events)
    assert stack.upstream_requests("secondary") == []  # no fallback once bytes were sent


def test_midstream_failure_raises_in_the_sdk_after_partial_content(client, stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="midstream")
    received = []
    with pytest.raises(openai.APIError, match="mid-stream"):
        for chunk in client.chat.completions.create(model="auto", messages=HELLO, max_tokens=10, stream=True):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received)


def test_truncated_non_streaming_body_falls_back(client, stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="midstream")
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=3)
    assert raw.headers["x-switchyard-backend"] == "secondary"


def test_slow_backend_is_waited_for_not_abandoned(client, stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="slow")
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=3)
    assert raw.headers["x-switchyard-backend"] == "primary"


def test_client_body_is_rebuilt_per_attempt_never_mutated(client, stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="500")
    client.chat.completions.create(
        model="deepseek-chat", messages=HELLO, max_tokens=3, stream=True,
        extra_body={"custom_flag": {"keep": True}},
    ).close()
    primary = stack.upstream_requests("primary")[-1]["body"]
    secondary = stack.upstream_requests("secondary")[-1]["body"]
    assert primary["chat_template_kwargs"] == {"thinking": False}  # vLLM's switch
    assert "chat_template_kwargs" not in secondary  # ...did not leak into the next attempt
    assert secondary["enable_thinking"] is False  # Novita's own
    assert primary["model"] == "deepseek-ai/DeepSeek-V3.2" and secondary["model"] == "deepseek/deepseek-v3.2"
    for body in (primary, secondary):
        assert body["messages"] == HELLO and body["custom_flag"] == {"keep": True}
        assert body["stream_options"] == {"include_usage": True}


def test_all_backends_failing_returns_the_last_error_in_openai_shape(client, stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="500")
    stack.set_faults("secondary", fail_rate=1.0, fail_mode="500")
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="auto", messages=HELLO, max_tokens=3)
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "server_error"
    assert "tried: primary, secondary" in caught.value.body["message"]


def test_rate_limited_everywhere_returns_429_with_retry_after(stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="429")
    stack.set_faults("secondary", fail_rate=1.0, fail_mode="429")
    response = httpx.post(f"{stack.gateway.v1}/chat/completions", json={"model": "auto", "messages": HELLO})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_stopped_self_hosted_backend_falls_back_without_an_error(client, stack):
    before = client.chat.completions.with_raw_response.create(model="via-doomed", messages=HELLO, max_tokens=2)
    assert before.headers["x-switchyard-backend"] == "doomed"
    stack.emulators["doomed"].stop()
    for stream in (False, True):
        with client.chat.completions.with_streaming_response.create(
            model="via-doomed", messages=HELLO, max_tokens=2, stream=stream
        ) as after:
            assert after.status_code == 200
            assert after.headers["x-switchyard-backend"] == "secondary"


def _running(stack, name: str) -> float:
    metrics = httpx.get(f"{stack.emulators[name].url}/metrics").text
    line = next(line for line in metrics.splitlines() if line.startswith("vllm:num_requests_running{"))
    return float(line.rsplit(" ", 1)[1])


def test_client_disconnect_cancels_the_upstream_request(stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="slow", slow_ms=50)  # 200 tokens: 10 s if not cancelled
    body = {"model": "auto", "messages": HELLO, "max_tokens": 200, "stream": True}
    with httpx.stream("POST", f"{stack.gateway.v1}/chat/completions", json=body) as response:
        assert response.headers["x-switchyard-backend"] == "primary"
        chunks = response.iter_bytes()
        assert next(chunks).startswith(b"data: ")
        assert _running(stack, "primary") == 1.0
    deadline_polls = 100
    while _running(stack, "primary") != 0.0 and deadline_polls:
        deadline_polls -= 1
        httpx.get(f"{stack.gateway.url}/healthz")  # a cheap pause between polls
    assert _running(stack, "primary") == 0.0
