"""The coding agents' protocols end to end: the official `anthropic` and `openai` SDKs and an Agents
SDK agent against a gateway subprocess with emulated backends, through the same routing, fallback,
limits and ledger as `/v1/chat/completions`.

One gateway for the module, with client keys (one of them limited to 1 request a minute) and an
admin key to read the ledger back; emulators: `primary` (vLLM), `deepseek` (DeepSeek API, V4,
thinking by default), `flaky` (vLLM whose faults a test switches) and `spare` (behind `flaky`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys

import anthropic
import httpx
import openai
import pytest

pytestmark = pytest.mark.slow

KEY = "sk-agents-e2e-client"
LIMITED_KEY = "sk-agents-e2e-one-per-minute"
ADMIN_KEY = "sk-agents-e2e-admin"
WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
WEATHER_FN = {"type": "function", "name": "get_weather", "description": "Weather for a city",
              "parameters": WEATHER["input_schema"]}
HELLO = [{"role": "user", "content": "Say hello."}]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _policy(urls: dict[str, str]) -> str:
    timeouts = "{connect_s: 1, first_token_s: 5, total_s: 30}"
    return f"""
version: 1
backends:
  primary: {{type: vllm, base_url: {urls['primary']}, model: deepseek-ai/DeepSeek-V3.2, family: deepseek-v3.2, thinking: true,
             timeouts: {timeouts}}}
  deepseek: {{type: deepseek, base_url: {urls['deepseek']}, api_key: sk-deepseek-upstream, model: deepseek-v4-flash,
              family: deepseek-v4-flash, price: {{input_usd_per_mtok: 0.3, output_usd_per_mtok: 1.2}}, timeouts: {timeouts}}}
  flaky: {{type: vllm, base_url: {urls['flaky']}, model: deepseek-ai/DeepSeek-V3.2, family: deepseek-v3.2, thinking: true,
           timeouts: {timeouts}}}
  spare: {{type: vllm, base_url: {urls['spare']}, model: deepseek-ai/DeepSeek-V3.2, family: deepseek-v3.2, thinking: true,
           timeouts: {timeouts}}}
  tiny: {{type: vllm, base_url: {urls['spare']}, model: small, context_window: 64, timeouts: {timeouts}}}
models:
  via-deepseek: {{}}
  via-fallback: {{}}
  via-flaky: {{}}
  via-tiny: {{}}
  claude-*: {{}}
  gpt-5*: {{}}
routes:
  - {{name: deepseek, when: {{model: via-deepseek}}, use: [deepseek]}}
  - {{name: fallback, when: {{model: via-fallback}}, use: [flaky, spare], prefer: order}}
  - {{name: flaky-only, when: {{model: via-flaky}}, use: [flaky]}}
  - {{name: tiny, when: {{model: via-tiny}}, use: [tiny]}}
  - {{name: default, use: [primary]}}
fallback:
  on: [connect_error, timeout, rate_limited, server_error]
  max_attempts: 3
  circuit_breaker: {{enabled: false}}
keys:
  - {{name: agents, sha256: "{_digest(KEY)}"}}
  - {{name: limited, sha256: "{_digest(LIMITED_KEY)}", rpm: 1}}
"""


@pytest.fixture(scope="module")
def stack(servers):
    emulators = {name: servers.emulator(profile, "--seed", "11", name=name)
                 for name, profile in (("primary", "vllm"), ("deepseek", "deepseek"), ("flaky", "vllm"), ("spare", "vllm"))}
    gateway = servers.gateway(_policy({name: e.v1 for name, e in emulators.items()}), env={"SWITCHYARD_ADMIN_KEY": ADMIN_KEY})
    return gateway, emulators


@pytest.fixture()
def gateway(stack):
    return stack[0]


@pytest.fixture()
def emulators(stack):
    for emulator in stack[1].values():
        httpx.delete(f"{emulator.url}/_emulator/requests")
        httpx.post(f"{emulator.url}/_emulator/config", json={"fail_rate": 0.0})
    return stack[1]


@pytest.fixture()
def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0)


@pytest.fixture()
def oai(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=KEY, max_retries=0)


def _records(gateway, request_id: str) -> list[dict]:
    usage = httpx.get(f"{gateway.url}/admin/usage", headers={"authorization": f"Bearer {ADMIN_KEY}"}).json()["data"]
    return sorted((r for r in usage if r["request_id"] == request_id), key=lambda r: r["attempt"])


def _upstream(emulators, name: str) -> list[dict]:
    return httpx.get(f"{emulators[name].url}/_emulator/requests").json()["requests"]


def _fail(emulators, name: str, mode: str) -> None:
    httpx.post(f"{emulators[name].url}/_emulator/config", json={"fail_rate": 1.0, "fail_mode": mode}).raise_for_status()


# --- Anthropic Messages ---------------------------------------------------------------------------

def test_anthropic_sync_message_is_routed_accounted_and_shaped_like_anthropics(claude, gateway, emulators):
    raw = claude.messages.with_raw_response.create(model="claude-sonnet-4-6", max_tokens=6, messages=HELLO)
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant" and message.model == "claude-sonnet-4-6"
    assert [block.type for block in message.content] == ["text"] and len(message.content[0].text.split()) == 6
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 6 and message.usage.input_tokens > 0
    assert raw.headers["x-switchyard-backend"] == "primary" and raw.headers["x-switchyard-route"] == "default"
    [record] = _records(gateway, raw.headers["x-switchyard-request-id"])
    assert (record["protocol"], record["backend"], record["ok"], record["streamed"]) == ("anthropic-messages", "primary", True, False)
    assert record["key_name"] == "agents" and record["completion_tokens"] == 6
    sent = _upstream(emulators, "primary")[-1]["body"]
    assert sent["messages"] == [{"role": "user", "content": "Say hello."}] and sent["max_tokens"] == 6


async def test_anthropic_async_client_with_bearer_auth_and_system_blocks(gateway, emulators):
    client = anthropic.AsyncAnthropic(base_url=gateway.url, auth_token=KEY, max_retries=0)  # Claude Code's ANTHROPIC_AUTH_TOKEN
    system = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.300.abc; cc_entrypoint=cli; cch=1f2e3;"},
              {"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}]
    message = await client.messages.create(model="claude-opus-4-8", max_tokens=4, system=system, messages=HELLO,
                                           stop_sequences=["END"], metadata={"user_id": "dev-1"},
                                           extra_body={"temperature": 0.2})  # older clients still send it
    await client.close()
    assert message.content[0].type == "text"
    sent = _upstream(emulators, "primary")[-1]["body"]
    assert sent["messages"][0] == {"role": "system", "content": "You are a coding agent."}  # billing header stripped
    assert (sent["stop"], sent["temperature"], sent["user"]) == (["END"], 0.2, "dev-1")


def test_anthropic_stream_emits_the_exact_event_sequence_with_thinking(claude, emulators):
    request = {"model": "claude-sonnet-4-6", "max_tokens": 12, "messages": HELLO, "thinking": {"type": "enabled", "budget_tokens": 2048}}
    events = list(claude.messages.create(**request, stream=True))  # the raw events, as sent
    kinds = [(e.type, e.content_block.type if e.type == "content_block_start" else e.delta.type if e.type == "content_block_delta"
              else None) for e in events]
    thinking = [k for k in kinds if k == ("content_block_delta", "thinking_delta")]
    text = [k for k in kinds if k == ("content_block_delta", "text_delta")]
    assert kinds == ([("message_start", None), ("content_block_start", "thinking"), *thinking,
                      ("content_block_delta", "signature_delta"), ("content_block_stop", None),
                      ("content_block_start", "text"), *text, ("content_block_stop", None),
                      ("message_delta", None), ("message_stop", None)])
    assert len(thinking) == 6 and len(text) == 6  # the emulator thinks for half the budget of 12 tokens
    assert [e.index for e in events if e.type.startswith("content_block")] == [0] * (len(thinking) + 3) + [1] * (len(text) + 2)
    assert events[0].message.usage.input_tokens > 0  # routing's estimate, not 0
    assert events[-2].delta.stop_reason == "max_tokens" and events[-2].usage.output_tokens == 12
    with claude.messages.stream(**request) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"] and final.content[0].signature
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 12
    sent = _upstream(emulators, "primary")[-1]["body"]
    assert sent["chat_template_kwargs"] == {"thinking": True} and "thinking" not in sent  # the backend's own switch


def test_anthropic_tool_use_round_trip_keeps_thinking_for_deepseek(claude, emulators):
    tools = [WEATHER]
    first = claude.messages.create(model="via-deepseek", max_tokens=64, tools=tools, messages=[{"role": "user", "content": "Paris?"}],
                                   thinking={"type": "enabled", "budget_tokens": 1024})
    assert first.stop_reason == "tool_use"
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    call = first.content[1]
    assert call.name == "get_weather" and isinstance(call.input["city"], str)
    second = claude.messages.create(
        model="via-deepseek", max_tokens=64, tools=tools, thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Paris?"}, {"role": "assistant", "content": first.content},
                  {"role": "user", "content": [{"type": "text", "text": "and be brief"},
                                               {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}]}])
    assert second.content  # the emulator calls the tool again while the turn's last content is not its answer
    sent = _upstream(emulators, "deepseek")[-1]["body"]
    assistant, tool, user = sent["messages"][1:]
    assert assistant["reasoning_content"] == first.content[0].thinking  # DeepSeek rejects a tool turn without it
    assert assistant["tool_calls"][0]["id"] == call.id and json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == call.input
    assert tool == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}  # before the turn's other content
    assert user == {"role": "user", "content": "and be brief"}
    assert sent["thinking"] == {"type": "enabled"} and sent["model"] == "deepseek-v4-flash"


def test_anthropic_streamed_tool_use_sends_arguments_as_input_json_deltas(claude):
    with claude.messages.stream(model="via-deepseek", max_tokens=64, tools=[WEATHER], messages=[{"role": "user", "content": "Paris?"}],
                                tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}) as stream:
        events = list(stream)
        final = stream.get_final_message()
    deltas = [e.delta for e in events if e.type == "content_block_delta"]
    assert {d.type for d in deltas} == {"input_json_delta"} and all(d.partial_json for d in deltas)
    assert json.loads("".join(d.partial_json for d in deltas)) == final.content[0].input
    assert final.stop_reason == "tool_use" and final.content[0].type == "tool_use"


def test_anthropic_count_tokens_answers_the_routing_estimate(claude):
    small = claude.messages.count_tokens(model="claude-haiku-4-5", messages=HELLO)
    large = claude.messages.count_tokens(model="claude-haiku-4-5", messages=[{"role": "user", "content": "word " * 400}],
                                         tools=[WEATHER])
    assert 0 < small.input_tokens < large.input_tokens


@pytest.mark.parametrize(("case", "error", "status", "kind"), [
    ("bad key", anthropic.AuthenticationError, 401, "authentication_error"),
    ("unknown model", anthropic.NotFoundError, 404, "not_found_error"),
    ("bad input", anthropic.BadRequestError, 400, "invalid_request_error"),
    ("no backend fits", anthropic.InternalServerError, 529, "overloaded_error"),
    ("upstream failed", anthropic.InternalServerError, 502, "api_error"),
])
def test_anthropic_errors_have_anthropics_shape_and_status(gateway, emulators, case, error, status, kind):
    client = anthropic.Anthropic(base_url=gateway.url, api_key="sk-wrong" if case == "bad key" else KEY, max_retries=0)
    model = {"unknown model": "gemini-3", "no backend fits": "via-tiny", "upstream failed": "via-flaky"}.get(case, "claude-x")
    if case == "upstream failed":
        _fail(emulators, "flaky", "500")
    with pytest.raises(error) as raised:
        if case == "bad input":
            client.messages.create(model=model, max_tokens=5, messages=[{"role": "tool", "content": "x"}])
        else:
            client.messages.create(model=model, max_tokens=5, messages=[{"role": "user", "content": "word " * 200}])
    assert raised.value.status_code == status
    assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"] == kind
    assert raised.value.body["error"]["message"]


def test_anthropic_rate_limit_is_a_rate_limit_error_with_retry_after(gateway):
    client = anthropic.Anthropic(base_url=gateway.url, api_key=LIMITED_KEY, max_retries=0)
    client.messages.create(model="claude-x", max_tokens=2, messages=HELLO)
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(model="claude-x", max_tokens=2, messages=HELLO)
    assert raised.value.body["error"]["type"] == "rate_limit_error" and int(raised.value.response.headers["retry-after"]) >= 1


def test_anthropic_mid_stream_failure_is_an_error_event(claude, emulators):
    _fail(emulators, "flaky", "midstream")
    with httpx.stream("POST", f"{str(claude.base_url).rstrip('/')}/v1/messages", headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
                      json={"model": "via-flaky", "max_tokens": 16, "stream": True, "messages": HELLO}) as response:
        assert response.status_code == 200
        lines = list(response.iter_lines())
    names = [line[7:] for line in lines if line.startswith("event: ")]
    assert names[0] == "message_start" and names[-1] == "error" and "message_stop" not in names
    assert "content_block_delta" in names
    assert json.loads(lines[-2][6:])["error"]["type"] == "api_error"
    with pytest.raises(anthropic.APIStatusError), claude.messages.stream(model="via-flaky", max_tokens=16, messages=HELLO) as stream:
        list(stream)  # the SDK raises the error event


# --- OpenAI Responses -----------------------------------------------------------------------------

def test_responses_create_is_routed_accounted_and_stored(oai, gateway):
    raw = oai.responses.with_raw_response.create(model="gpt-5.2-codex", instructions="Be brief.", input="Say hello.")
    response = raw.parse()
    assert response.object == "response" and response.status == "completed" and response.output_text
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    [record] = _records(gateway, raw.headers["x-switchyard-request-id"])
    assert (record["protocol"], record["backend"], record["ok"]) == ("openai-responses", "primary", True)
    assert oai.responses.retrieve(response.id).output_text == response.output_text


def test_responses_stream_emits_the_exact_event_sequence(oai):
    with oai.responses.stream(model="gpt-5", input="Say hello.", reasoning={"effort": "low"}) as stream:
        events = list(stream)
        final = stream.get_final_response()
    names = [e.type for e in events]
    reasoning = [n for n in names if n == "response.reasoning_text.delta"]
    text = [n for n in names if n == "response.output_text.delta"]
    assert names == ["response.created", "response.in_progress",
                     "response.output_item.added", "response.content_part.added", *reasoning, "response.reasoning_text.done",
                     "response.content_part.done", "response.output_item.done",
                     "response.output_item.added", "response.content_part.added", *text, "response.output_text.done",
                     "response.content_part.done", "response.output_item.done", "response.completed"]
    assert reasoning and text
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [item.type for item in final.output] == ["reasoning", "message"] and final.output_text


def test_responses_function_call_round_trip_with_previous_response_id(oai, emulators):
    first = oai.responses.create(model="via-deepseek", input="Weather in Paris?", tools=[WEATHER_FN],
                                 reasoning={"effort": "high"})
    call = next(item for item in first.output if item.type == "function_call")
    assert [item.type for item in first.output] == ["reasoning", "function_call"]
    assert call.name == "get_weather" and "city" in json.loads(call.arguments)
    second = oai.responses.create(model="via-deepseek", previous_response_id=first.id, tools=[WEATHER_FN],
                                  input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert second.status == "completed" and second.output_text
    sent = _upstream(emulators, "deepseek")[-1]["body"]
    user, assistant, tool = sent["messages"]
    assert user == {"role": "user", "content": "Weather in Paris?"}
    assert assistant["tool_calls"][0]["id"] == call.call_id and assistant["reasoning_content"]
    assert tool == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}


def test_responses_stream_of_a_function_call(oai):
    with oai.responses.stream(model="gpt-5", input="Weather?", tools=[WEATHER_FN], tool_choice="required") as stream:
        names = [e.type for e in stream]
        final = stream.get_final_response()
    args = [n for n in names if n == "response.function_call_arguments.delta"]
    assert names == ["response.created", "response.in_progress", "response.output_item.added", *args,
                     "response.function_call_arguments.done", "response.output_item.done", "response.completed"]
    assert json.loads(final.output[0].arguments)["city"]


def test_responses_json_schema_output_parses(oai):
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    parsed = oai.responses.parse(model="gpt-5", input="A city.", text_format=City)
    assert isinstance(parsed.output_parsed, City)


def test_responses_errors_are_openai_shaped(gateway, emulators):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway.v1, api_key="sk-wrong", max_retries=0).responses.create(model="gpt-5", input="x")
    client = openai.OpenAI(base_url=gateway.v1, api_key=KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.create(model="gpt-5", input="x", previous_response_id="resp_missing")
    assert raised.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_missing")
    _fail(emulators, "flaky", "midstream")
    with client.responses.stream(model="via-flaky", input="Say hello.", max_output_tokens=16) as stream:
        names = [e.type for e in stream]
    assert names[0] == "response.created" and names[-1] == "response.failed"


# --- one pipeline: fallback before the first byte, for each protocol ------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("protocol", ["anthropic-messages", "openai-responses"])
def test_a_backend_failing_before_the_first_byte_is_skipped(gateway, emulators, protocol, stream):
    _fail(emulators, "flaky", "500")
    if protocol == "anthropic-messages":
        body, path = {"model": "via-fallback", "max_tokens": 4, "messages": HELLO, "stream": stream}, "/v1/messages"
    else:
        body, path = {"model": "via-fallback", "input": "Say hello.", "stream": stream}, "/v1/responses"
    response = httpx.post(f"{gateway.url}{path}", json=body, headers={"x-api-key": KEY, "authorization": f"Bearer {KEY}"})
    assert response.status_code == 200 and response.headers["x-switchyard-backend"] == "spare"
    last = "message_stop" if protocol == "anthropic-messages" else "response.completed"
    assert (f"event: {last}" in response.text) if stream else ("error" not in response.json() or response.json()["error"] is None)
    records = _records(gateway, response.headers["x-switchyard-request-id"])
    assert [(r["backend"], r["ok"], r["protocol"]) for r in records] == [("flaky", False, protocol), ("spare", True, protocol)]


def test_every_protocol_shows_in_gateway_spend(gateway, claude, oai):
    claude.messages.create(model="claude-x", max_tokens=2, messages=HELLO)
    oai.responses.create(model="gpt-5", input="Say hello.")
    ledger = gateway.log_path.parent / f"ledger-{gateway.port}.sqlite3"
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "spend", "--by", "protocol", "--db", str(ledger), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = {row["group"]: row for row in json.loads(done.stdout)["rows"]}
    assert {"anthropic-messages", "openai-responses"} <= set(rows)
    assert all(rows[p]["requests"] >= 1 and rows[p]["completion_tokens"] > 0 for p in ("anthropic-messages", "openai-responses"))


# --- the Agents SDK --------------------------------------------------------------------------------

def test_an_agents_sdk_agent_with_a_function_tool_and_its_default_model(gateway, emulators):
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
    from agents.models.default_models import get_default_model

    set_tracing_disabled(True)
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        calls.append(city)
        return f"sunny in {city}"

    client = openai.AsyncOpenAI(base_url=gateway.v1, api_key=KEY, max_retries=0)
    agent = Agent(name="weather", instructions="Use the tool.", tools=[get_weather],
                  model=OpenAIResponsesModel(model=get_default_model(), openai_client=client))
    result = asyncio.run(Runner.run(agent, "Weather in Paris?"))
    assert calls and result.final_output
    sent = [r["body"] for r in _upstream(emulators, "primary")]
    assert sent[-1]["messages"][-1]["role"] == "tool"  # the tool's answer went back through the gateway
