"""The gateway (type `vllm`) in front of a real vLLM, with the official openai SDK as the client.

The tiny model answers greedily with a known text (tiny_model.py), so answers are asserted
exactly; usage and the ledger are compared with what vLLM itself reports for the same request
sent to it directly.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.real_vllm.engine import SERVED_MODEL
from tests.real_vllm.tiny_model import ANSWER_TEXT, REASONING_TEXT

pytestmark = [pytest.mark.slow, pytest.mark.real_vllm]

HELLO = [{"role": "user", "content": "Say hello."}]
TIMEOUT_S = 120.0


@pytest.fixture()
def client(real_stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=real_stack.gateway.v1, api_key="sk-client", max_retries=0, timeout=TIMEOUT_S)


def _direct(stack: Any, body: dict[str, Any], path: str = "/chat/completions") -> dict[str, Any]:
    """The same request sent to vLLM itself (its usage is the reference); then the gateway is let see
    its queue empty again (RealStack.settle)."""
    response = httpx.post(f"{stack.engine.v1}{path}", json={**body, "model": SERVED_MODEL}, timeout=TIMEOUT_S)
    response.raise_for_status()
    stack.settle()
    return response.json()


def _direct_stream_usage(stack: Any, body: dict[str, Any]) -> dict[str, Any]:
    payload = {**body, "model": SERVED_MODEL, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{stack.engine.v1}/chat/completions", json=payload, timeout=TIMEOUT_S) as response:
        text = response.read().decode()
    stack.settle()
    chunks = [orjson.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    return chunks[-1]["usage"]


def _usage_counts(usage: Any) -> tuple[int, int, int]:
    data = usage if isinstance(usage, dict) else usage.model_dump()
    return data["prompt_tokens"], data["completion_tokens"], data["total_tokens"]


def test_non_streamed_chat_is_vllms_answer_with_vllms_usage(real_stack, client):
    raw = client.chat.completions.with_raw_response.create(model="only-local", messages=HELLO, temperature=0)
    completion = raw.parse()
    assert raw.headers["x-switchyard-backend"] == "local"
    assert completion.choices[0].message.content == ANSWER_TEXT
    assert completion.choices[0].finish_reason == "stop"
    direct = _direct(real_stack, {"messages": HELLO, "temperature": 0})
    assert _usage_counts(completion.usage) == _usage_counts(direct["usage"])


def test_streamed_chat_without_include_usage_has_no_usage_chunk(client):
    with client.chat.completions.with_streaming_response.create(
        model="only-local", messages=HELLO, temperature=0, stream=True
    ) as response:
        assert response.headers["x-switchyard-backend"] == "local"
        chunks = list(response.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER_TEXT
    assert all(c.usage is None for c in chunks)  # the gateway asked vLLM for usage; the client did not
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_streamed_chat_with_include_usage_ends_with_vllms_usage(real_stack, client):
    stream = client.chat.completions.create(model="only-local", messages=HELLO, temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert _usage_counts(chunks[-1].usage) == _usage_counts(_direct_stream_usage(real_stack, {"messages": HELLO, "temperature": 0}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER_TEXT


def test_thinking_comes_back_as_reasoning_content_streamed_or_not(real_stack, client):
    completion = client.chat.completions.create(model="thinker", messages=HELLO, temperature=0)
    message = completion.choices[0].message
    assert (message.reasoning_content, message.content) == (REASONING_TEXT, ANSWER_TEXT)
    chunks = [c for c in client.chat.completions.create(model="thinker", messages=HELLO, temperature=0, stream=True) if c.choices]
    assert "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks) == REASONING_TEXT
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER_TEXT


def test_n_stop_and_logprobs_reach_vllm(client):
    several = client.chat.completions.create(model="only-local", messages=HELLO, n=2, temperature=1.0, max_tokens=3)
    assert [c.index for c in several.choices] == [0, 1]
    stopped = client.chat.completions.create(model="only-local", messages=HELLO, temperature=0, stop=[" cheapest"])
    assert stopped.choices[0].message.content == ANSWER_TEXT.split(" cheapest")[0]
    assert stopped.choices[0].finish_reason == "stop"
    scored = client.chat.completions.create(model="only-local", messages=HELLO, temperature=0, max_tokens=2,
                                            logprobs=True, top_logprobs=2)
    tokens = scored.choices[0].logprobs.content
    assert [t.token for t in tokens] == [" the", " gateway"] and all(len(t.top_logprobs) == 2 for t in tokens)


def test_seed_reaches_vllm(real_stack, client):
    """At temperature 2 (vLLM's maximum) the tiny model's next token is nearly uniform: only the seed repeats an answer."""
    def sampled(seed: int) -> str:
        return client.chat.completions.create(model="only-local", messages=HELLO, temperature=2, max_tokens=8,
                                              seed=seed).choices[0].message.content

    first = sampled(1234)
    assert sampled(1234) == first
    assert _direct(real_stack, {"messages": HELLO, "temperature": 2, "max_tokens": 8, "seed": 1234})["choices"][0]["message"]["content"] == first
    assert sampled(4321) != first


def test_vllm_only_and_unknown_parameters_pass_through(client):
    raw = client.chat.completions.with_raw_response.create(
        model="only-local", messages=HELLO, temperature=0, max_tokens=24,
        extra_body={"ignore_eos": True, "return_token_ids": True, "top_k": 1, "switchyard_unknown_param": {"x": 1}},
    )
    body = raw.http_response.json()
    choice = body["choices"][0]
    assert len(choice["token_ids"]) == 24 == body["usage"]["completion_tokens"]  # return_token_ids and ignore_eos honoured
    assert choice["message"]["content"].startswith(ANSWER_TEXT + ANSWER_TEXT[:4])  # past the end of sequence: it repeats


def test_ledger_records_vllms_own_token_counts(real_stack, client):
    request = {"messages": HELLO, "temperature": 0, "max_tokens": 6}
    raw = client.chat.completions.with_raw_response.create(model="only-local", **request)
    [record] = real_stack.ledger_records(raw.headers["x-switchyard-request-id"])
    direct = _direct(real_stack, request)["usage"]
    assert (record["backend"], record["ok"], record["streamed"]) == ("local", True, False)
    assert (record["prompt_tokens"], record["completion_tokens"]) == (direct["prompt_tokens"], direct["completion_tokens"])
    assert record["reasoning_tokens"] == direct["completion_tokens_details"]["reasoning_tokens"]
    assert record["usage_estimated"] is False

    with client.chat.completions.with_streaming_response.create(model="only-local", stream=True, **request) as response:
        request_id = response.headers["x-switchyard-request-id"]
        list(response.parse())
    [streamed] = real_stack.ledger_records(request_id)
    reference = _direct_stream_usage(real_stack, request)
    assert streamed["streamed"] is True and streamed["usage_estimated"] is False
    assert (streamed["prompt_tokens"], streamed["completion_tokens"]) == (reference["prompt_tokens"], reference["completion_tokens"])


def test_health_probe_and_metrics_scrape_see_the_engine(real_stack):
    local = real_stack.admin("/admin/status")["backends"]["local"]
    assert local["healthy"] is True and local["probe_error"] is None and local["probed_at"] is not None
    assert local["scrape_error"] is None and local["scraped_at"] is not None
    assert isinstance(local["waiting"], int) and isinstance(local["running"], int) and isinstance(local["kv_usage"], float)
