"""The official openai SDK against the gateway, over loopback, sync and async, streamed and not."""

from __future__ import annotations

import json

import openai
import pytest

pytestmark = pytest.mark.slow

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture()
def client(provider_stack) -> openai.OpenAI:
    provider_stack.clear_requests()
    return openai.OpenAI(base_url=provider_stack.gateway.v1, api_key="sk-client", max_retries=0)


@pytest.fixture()
def async_client(provider_stack) -> openai.AsyncOpenAI:
    provider_stack.clear_requests()
    return openai.AsyncOpenAI(base_url=provider_stack.gateway.v1, api_key="sk-client", max_retries=0)


def test_non_streaming_chat_returns_text_and_routing_headers(client):
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=5)
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage.completion_tokens == 5
    assert raw.headers["x-switchyard-backend"] == "local"
    assert raw.headers["x-switchyard-route"] == "default"
    assert raw.headers["x-switchyard-request-id"].startswith("req_")
    assert float(raw.headers["x-switchyard-overhead-ms"]) >= 0
    assert float(raw.headers["x-switchyard-cost-usd"]) == 0.0  # self-hosted: no marginal cost


def test_managed_backend_cost_header_matches_its_price(client):
    raw = client.chat.completions.with_raw_response.create(model="via-novita", messages=HELLO, max_tokens=4)
    usage = raw.parse().usage
    expected = (usage.prompt_tokens * 0.27 + usage.completion_tokens * 0.40) / 1e6
    assert float(raw.headers["x-switchyard-cost-usd"]) == pytest.approx(expected, abs=1e-8)


def test_streaming_chat_delivers_every_token_and_headers(client):
    with client.chat.completions.with_streaming_response.create(
        model="auto", messages=HELLO, max_tokens=6, stream=True
    ) as response:
        assert response.headers["x-switchyard-backend"] == "local"
        assert "x-switchyard-cost-usd" not in response.headers
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 6
    assert chunks[-1].choices[0].finish_reason == "length"


def test_streaming_without_include_usage_sends_no_usage_chunk(client, provider_stack):
    chunks = list(client.chat.completions.create(model="auto", messages=HELLO, max_tokens=3, stream=True))
    assert all(c.usage is None for c in chunks)
    upstream = provider_stack.upstream_requests("vllm")[-1]["body"]
    assert upstream["stream_options"] == {"include_usage": True}  # asked upstream anyway


def test_streaming_with_include_usage_ends_with_the_usage_chunk(client):
    chunks = list(client.chat.completions.create(
        model="auto", messages=HELLO, max_tokens=3, stream=True, stream_options={"include_usage": True}
    ))
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 3


@pytest.mark.parametrize("model", ["via-deepseek", "via-fireworks"])
def test_usage_on_the_final_chunk_is_stripped_unless_asked(client, model):
    chunks = list(client.chat.completions.create(model=model, messages=HELLO, max_tokens=3, stream=True))
    assert [c.usage for c in chunks] == [None] * len(chunks)
    asked = list(client.chat.completions.create(
        model=model, messages=HELLO, max_tokens=3, stream=True, stream_options={"include_usage": True}
    ))
    assert asked[-1].usage.completion_tokens == 3


async def test_async_client_non_streaming(async_client):
    completion = await async_client.chat.completions.create(model="via-sglang", messages=HELLO, max_tokens=4)
    assert completion.usage.completion_tokens == 4
    assert len(completion.choices[0].message.content.split()) == 4


async def test_async_client_streaming(async_client):
    stream = await async_client.chat.completions.create(model="via-deepseek", messages=HELLO, max_tokens=4, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert len(text.split()) == 4


def test_same_request_gives_the_same_answer(client):
    first = client.chat.completions.create(model="auto", messages=HELLO, max_tokens=8)
    second = client.chat.completions.create(model="auto", messages=HELLO, max_tokens=8)
    assert first.choices[0].message.content == second.choices[0].message.content


def test_tool_call_non_streaming(client):
    completion = client.chat.completions.create(model="auto", messages=HELLO, tools=[WEATHER_TOOL])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city", "days"}


def test_tool_call_streaming_assembles_valid_arguments(client):
    stream = client.chat.completions.create(model="via-fireworks", messages=HELLO, tools=[WEATHER_TOOL], stream=True)
    name, arguments, finish = "", "", None
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                name += call.function.name or ""
                arguments += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert name == "get_weather"
    assert isinstance(json.loads(arguments)["city"], str)
    assert finish == "tool_calls"


def test_tool_choice_none_answers_in_text(client):
    completion = client.chat.completions.create(model="auto", messages=HELLO, tools=[WEATHER_TOOL], tool_choice="none")
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].message.content


def test_tool_result_gets_a_text_answer(client):
    messages = [
        *HELLO,
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    completion = client.chat.completions.create(model="auto", messages=messages, tools=[WEATHER_TOOL])
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content


def test_json_mode_output_parses(client):
    completion = client.chat.completions.create(model="auto", messages=HELLO, response_format={"type": "json_object"})
    assert isinstance(json.loads(completion.choices[0].message.content), dict)


def test_json_schema_output_matches_the_schema(client):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}
    stream = client.chat.completions.create(
        model="via-novita", messages=HELLO, stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
    )
    parsed = json.loads("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
    assert isinstance(parsed["name"], str) and isinstance(parsed["age"], int)


def test_every_parameter_reaches_the_upstream_untouched(client, provider_stack):
    client.chat.completions.create(
        model="auto", messages=HELLO, max_tokens=2, temperature=0.3, seed=11, stop=["\n"], logprobs=True,
        extra_body={"top_k": 5, "switchyard_unknown": {"nested": [1, 2]}},
    )
    body = provider_stack.upstream_requests("vllm")[-1]["body"]
    assert body["model"] == "deepseek-ai/DeepSeek-V3.2"
    assert body["temperature"] == 0.3 and body["seed"] == 11 and body["stop"] == ["\n"] and body["logprobs"] is True
    assert body["top_k"] == 5 and body["switchyard_unknown"] == {"nested": [1, 2]}


def test_client_authorization_is_not_forwarded_and_backend_key_is(client, provider_stack):
    client.chat.completions.create(model="via-novita", messages=HELLO, max_tokens=1)
    headers = provider_stack.upstream_requests("novita")[-1]["headers"]
    assert headers["authorization"] == "[redacted]"  # the emulator redacts; presence shows a key was sent
    vllm_headers = None
    client.chat.completions.create(model="via-vllm", messages=HELLO, max_tokens=1)
    vllm_headers = provider_stack.upstream_requests("vllm")[-1]["headers"]
    assert "authorization" not in vllm_headers  # no key configured: the client's own key never goes upstream


def test_legacy_completions_endpoint(client):
    completion = client.completions.create(model="auto", prompt="Once upon a time", max_tokens=5)
    assert len(completion.choices[0].text.split()) == 5
    streamed = "".join(c.choices[0].text for c in client.completions.create(model="auto", prompt="Hi", max_tokens=3, stream=True) if c.choices)
    assert len(streamed.split()) == 3


def test_models_lists_the_policy_aliases(client):
    ids = [m.id for m in client.models.list()]
    assert ids[:3] == ["auto", "deepseek-reasoner", "via-vllm"]
    assert client.models.retrieve("auto").id == "auto"
