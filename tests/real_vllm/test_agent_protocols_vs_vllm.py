"""The gateway's `/v1/messages` and `/v1/responses` in front of a real vLLM, compared with vLLM's own
native `/v1/messages` and `/v1/responses` for the same request, with the official SDKs as clients.

Each case goes to the gateway (model `tool-engine`: the session's second engine, served with a
tool-call parser as DeepSeek-V3.2 is for coding agents, as a `type: vllm` backend, which the gateway
speaks chat completions to) and to that vLLM itself, with the `anthropic` SDK's
`messages.create` or the `openai` SDK's `responses.create`, non-streamed and streamed, and once
more through the SDK's own stream helper, as an agent reads it. Compared, gateway against vLLM:

- streams: the sequence of event labels (the event type with its block / delta / item / part type,
  repeats collapsed, since how many deltas a text takes is data), then keys and JSON types event
  run by event run;
- answers: keys and JSON types; every event and answer of the gateway also against the SDK's type
  for it (the published spec: a missing required field or a wrong type is named);
- stop reasons (and the matched stop sequence), the text, thinking and tool input (each equal to
  the tiny model's known answer), and usage: input and output tokens equal to vLLM's own.

The allowed differences are the tables below, each with its reason; any other difference fails and
names the event and the field. Where vLLM departs from the spec the gateway is held to the spec and
the departure is an allowance under "vLLM deviates" (listed in docs/testing-against-vllm.md too).
A wrong translation is mended in gateway/protocols/ (with a table test in tests/gateway/protocols/),
not here. Besides the tables: Anthropic's `ping` events may come anywhere in a stream (Anthropic's
streaming docs) and are dropped from both sides before comparing (neither sends one today); the
gateway's `message_start` carries its own estimate of the input tokens, because the chat stream it
translates reports usage only at its end, and `message_delta` carries vLLM's exact count (Anthropic
documents message_delta's usage as cumulative; the SDK's final message takes it); vLLM ends a
cut-short Responses stream with `response.completed`, where the spec's event is
`response.incomplete`, and is read as the spec's.

Thinking is asked the spec's way of the gateway (`thinking: {type: enabled, budget_tokens}`,
`reasoning: {effort}`). vLLM 0.32's endpoints do not turn a chat template's thinking on from those
(Anthropic's becomes a token budget that needs `--reasoning-config`, a 400 without it; the Responses
effort leaves the DeepSeek template off), so vLLM gets its extension `chat_template_kwargs:
{thinking: true}`, which is also what the gateway's vllm adapter sends it. Tool use is a named
tool_choice of a `strict` tool, which vLLM's structured outputs write for the tiny model (engine.py,
TOOL_CALL_PARSER): the model cannot pick a tool itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import anthropic.types as at
import openai
import orjson
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from tests.real_vllm.engine import SERVED_MODEL
from tests.real_vllm.protocol_compare import (
    GATEWAY, VLLM, Allowance, anthropic_label, event_types, label_runs, labels, responses_label, sequence_problems,
    spec_problems, unexplained_differences,
)
from tests.real_vllm.shapes import parse_sse
from tests.real_vllm.tiny_model import ANSWER_TEXT, ANSWER_WORDS, REASONING_TEXT

pytestmark = [pytest.mark.slow, pytest.mark.real_vllm]

GATEWAY_MODEL = "tool-engine"  # the tool-parser engine only (conftest.real_engine_policy)
PROMPT = "Say hello."
TIMEOUT_S = 120.0
VLLM_THINKING = {"chat_template_kwargs": {"thinking": True}}  # sent as extra_body
ROUTE_SCHEMA = {"type": "object", "properties": {"backend": {"type": "string", "enum": ["local"]}}, "required": ["backend"],
                "additionalProperties": False}
ROUTE_INPUT = {"backend": "local"}
TOOL_MAX_TOKENS = 200  # the tiny vocabulary spells JSON a character a token: the call takes 75
FIRST_FOUR_WORDS = "".join(ANSWER_WORDS[:4])


@dataclass(frozen=True)
class Case:
    name: str
    body: dict[str, Any]  # sent to both
    stop: str  # the stop reason (Messages) or status (Responses) the spec expects
    content: list[tuple[Any, ...]]  # the answer's blocks (Messages) or output items (Responses), as (type, value...)
    gateway_only: dict[str, Any] = field(default_factory=dict)  # the spec's way of asking, for the gateway
    vllm_only: dict[str, Any] = field(default_factory=dict)  # what vLLM needs for the same behaviour (see above)


def _ids(cases: list[Case]) -> list[str]:
    return [case.name for case in cases]


def _problems(case: Case, what: str, problems: list[str]) -> str:
    return f"{case.name}: the gateway's {what} differs from vLLM's:\n" + "\n".join(problems)


Request = Callable[[Case, bool], dict[str, Any]]  # (case, to the gateway?) -> the SDK call's arguments


def _answers(clients: tuple[Any, Any], case: Case, resource: Callable[[Any], Any], request: Request) -> list[dict[str, Any]]:
    """The raw JSON answers, (gateway, vLLM); `resource(client)` is the SDK's `messages` or `responses`."""
    answers = []
    for client, to_gateway in zip(clients, (True, False)):
        raw = resource(client).with_raw_response.create(**request(case, to_gateway))
        answers.append(orjson.loads(raw.http_response.content))
    return answers


def _streams(clients: tuple[Any, Any], case: Case, resource: Callable[[Any], Any], request: Request) -> list[list[dict[str, Any]]]:
    """The raw events of the streamed answers, (gateway, vLLM), Anthropic's `ping`s left out."""
    streams = []
    for client, to_gateway in zip(clients, (True, False)):
        with resource(client).with_streaming_response.create(stream=True, **request(case, to_gateway)) as response:
            events = [event.data for event in parse_sse(response.read().decode())]
        streams.append([event for event in events if event.get("type") != "ping"])
    return streams


# --- Anthropic Messages ---------------------------------------------------------------------------

ROUTE_TOOL = {"name": "route", "description": "Route a request", "input_schema": ROUTE_SCHEMA, "strict": True}
MESSAGE_CASES = [
    Case("text", {"max_tokens": 64}, "end_turn", [("text", ANSWER_TEXT)]),
    Case("max_tokens", {"max_tokens": 4}, "max_tokens", [("text", FIRST_FOUR_WORDS)]),
    Case("stop_sequence", {"max_tokens": 64, "stop_sequences": [" routes"]}, "stop_sequence", [("text", " the gateway")]),
    Case("thinking", {"max_tokens": 2048}, "end_turn", [("thinking", REASONING_TEXT), ("text", ANSWER_TEXT)],
         gateway_only={"thinking": {"type": "enabled", "budget_tokens": 1024}}, vllm_only=VLLM_THINKING),
    Case("tool_use", {"max_tokens": TOOL_MAX_TOKENS, "tools": [ROUTE_TOOL], "tool_choice": {"type": "tool", "name": "route"}},
         "tool_use", [("tool_use", "route", ROUTE_INPUT)]),
]

# Anthropic's published Messages types: the `anthropic` SDK 2.10.0 (types/) and Anthropic's OpenAPI
# (BetaMessage and BetaUsage "required" lists, as derived in github.com/api-evangelist/anthropic
# json-schema/anthropic-beta-message-schema.json, generated 2026-09-23; read 2026-12-04).
MESSAGE_ALLOWANCES = [
    # vLLM deviates
    Allowance("message $.stop_sequence", GATEWAY,
              "Message.stop_sequence is required (null unless a custom stop sequence ended the turn); vLLM 0.32 "
              "serialises its answer with exclude_unset and leaves it out when null"),
    Allowance("* $*usage.cache_creation_input_tokens", GATEWAY,
              "Usage.cache_creation_input_tokens is required (nullable); vLLM 0.32 leaves it out unless it counts cached "
              "tokens (--enable-prompt-tokens-details); the gateway always reports it (0: nothing is written to a cache)"),
    Allowance("* $*usage.cache_read_input_tokens", GATEWAY,
              "Usage.cache_read_input_tokens is required (nullable); vLLM 0.32 leaves it out, as above; the gateway "
              "reports the upstream's cached prompt tokens (0 here)"),
    Allowance("content_block_start(thinking) $.content_block.signature", GATEWAY,
              "ThinkingBlock.signature is a required string (Anthropic opens the block with signature \"\" and sends "
              "the signature as a signature_delta); vLLM 0.32 opens it with `thinking` alone, so the SDK's ThinkingBlock "
              "type does not validate it"),
]

MESSAGE_EVENTS = event_types(at.RawMessageStreamEvent)


@pytest.fixture(scope="module")
def anthropic_clients(real_stack) -> tuple[anthropic.Anthropic, anthropic.Anthropic]:
    """(to the gateway, to vLLM's own /v1/messages)."""
    return (anthropic.Anthropic(base_url=real_stack.gateway.url, api_key="sk-client", max_retries=0, timeout=TIMEOUT_S),
            anthropic.Anthropic(base_url=real_stack.tool_engine.url, api_key="unused", max_retries=0, timeout=TIMEOUT_S))


def _message_request(case: Case, to_gateway: bool) -> dict[str, Any]:
    """The SDK's arguments. anthropic 2.10.0's `messages.create` no longer takes `temperature`, which
    both servers accept: it goes as extra_body (0: greedy, so the tiny model's answer is known)."""
    extensions = {} if to_gateway else case.vllm_only
    return {"model": GATEWAY_MODEL if to_gateway else SERVED_MODEL, "messages": [{"role": "user", "content": PROMPT}],
            **case.body, **(case.gateway_only if to_gateway else {}), "extra_body": {"temperature": 0, **extensions}}


def _blocks(content: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    values: list[tuple[Any, ...]] = []
    for block in content:
        if block["type"] == "tool_use":
            values.append(("tool_use", block["name"], block["input"]))
        else:
            values.append((block["type"], block[block["type"]]))  # text.text, thinking.thinking
    return values


def _message_usage(usage: dict[str, Any]) -> tuple[int, int]:
    return usage["input_tokens"], usage["output_tokens"]


@pytest.mark.parametrize("case", MESSAGE_CASES, ids=_ids(MESSAGE_CASES))
def test_messages_answer_is_vllms_own(anthropic_clients, case):
    ours, theirs = _answers(anthropic_clients, case, lambda c: c.messages, _message_request)
    problems = spec_problems(ours, at.Message, "message") + unexplained_differences(ours, theirs, "message", MESSAGE_ALLOWANCES)
    assert not problems, _problems(case, "/v1/messages answer", problems)
    assert _blocks(ours["content"]) == _blocks(theirs["content"]) == case.content
    assert (ours["stop_reason"], ours["stop_sequence"]) == (theirs["stop_reason"], theirs.get("stop_sequence"))
    assert ours["stop_reason"] == case.stop
    assert _message_usage(ours["usage"]) == _message_usage(theirs["usage"])


@pytest.mark.parametrize("case", MESSAGE_CASES, ids=_ids(MESSAGE_CASES))
def test_messages_stream_is_vllms_own_event_by_event(anthropic_clients, case):
    ours, theirs = _streams(anthropic_clients, case, lambda c: c.messages, _message_request)
    problems = sequence_problems(labels(ours, anthropic_label), labels(theirs, anthropic_label))
    assert not problems, _problems(case, "/v1/messages stream", problems)
    for index, event in enumerate(ours):
        problems += spec_problems(event, MESSAGE_EVENTS[event["type"]], f"events[{index}] ({anthropic_label(event)})")
    for (label, mine), (_, other) in zip(label_runs(ours, anthropic_label), label_runs(theirs, anthropic_label)):
        problems += unexplained_differences(mine, other, label, MESSAGE_ALLOWANCES)
    assert not problems, _problems(case, "/v1/messages stream", problems)
    delta, their_delta = (next(event for event in events if event["type"] == "message_delta") for events in (ours, theirs))
    assert delta["delta"] == their_delta["delta"] and delta["delta"]["stop_reason"] == case.stop
    assert _message_usage(delta["usage"]) == _message_usage(their_delta["usage"])
    assert ours[0]["message"]["usage"]["input_tokens"] > 0  # the gateway's estimate, never 0 (see the module docstring)


@pytest.mark.parametrize("case", MESSAGE_CASES, ids=_ids(MESSAGE_CASES))
def test_messages_stream_helper_ends_with_vllms_message(anthropic_clients, case):
    """`messages.stream()` accumulates the events into the final message an agent acts on."""
    finals = []
    for client, to_gateway in zip(anthropic_clients, (True, False)):
        with client.messages.stream(**_message_request(case, to_gateway)) as stream:
            finals.append(stream.get_final_message().model_dump(mode="json"))
    ours, theirs = finals
    assert _blocks(ours["content"]) == _blocks(theirs["content"]) == case.content
    assert (ours["stop_reason"], ours["stop_sequence"]) == (theirs["stop_reason"], theirs["stop_sequence"])
    assert _message_usage(ours["usage"]) == _message_usage(theirs["usage"])  # message_delta's count replaced the estimate


# --- OpenAI Responses -----------------------------------------------------------------------------

ROUTE_FUNCTION = {"type": "function", "name": "route", "description": "Route a request", "parameters": ROUTE_SCHEMA, "strict": True}
RESPONSE_CASES = [
    Case("text", {"max_output_tokens": 64}, "completed", [("message", ANSWER_TEXT)]),
    Case("max_output_tokens", {"max_output_tokens": 4}, "incomplete", [("message", FIRST_FOUR_WORDS)]),
    Case("reasoning", {"max_output_tokens": 2048, "reasoning": {"effort": "medium"}}, "completed",
         [("reasoning", REASONING_TEXT), ("message", ANSWER_TEXT)], vllm_only=VLLM_THINKING),
    Case("function_call", {"max_output_tokens": TOOL_MAX_TOKENS, "tools": [ROUTE_FUNCTION],
                           "tool_choice": {"type": "function", "name": "route"}},
         "completed", [("function_call", "route", ROUTE_INPUT)]),
]


def _allow(fields: str, only_in: str | None, reason: str, where: str = "*") -> list[Allowance]:
    """One allowance per space-separated field path suffix, in events labelled `where`."""
    return [Allowance(f"{where} $*.{name}", only_in, reason) for name in fields.split()]


# OpenAI's published Responses types: the `openai` SDK 3.57.0 (types/responses/, types/shared/). Its models
# keep unknown keys, so a key outside them is an extension, not an error. `[[]*[]]` is fnmatch for `[N]`.
RESPONSE_ALLOWANCES = [
    *_allow("frequency_penalty presence_penalty kv_transfer_params ec_transfer_params input_messages output_messages "
            "input_tokens_details.input_tokens_per_turn input_tokens_details.cached_tokens_per_turn "
            "output_tokens_details.output_tokens_per_turn output_tokens_details.tool_output_tokens "
            "output_tokens_details.tool_output_tokens_per_turn", VLLM,
            "vLLM's own extensions, in no OpenAI type"),
    *_allow("background max_tool_calls prompt service_tier top_logprobs", VLLM,
            "optional Response fields (SDK: `= None`) of features the gateway does not offer; vLLM fills its defaults"),
    *_allow("reasoning.context reasoning.generate_summary reasoning.mode", VLLM,
            "optional Reasoning fields; the gateway echoes the request's effort and summary, vLLM its whole Reasoning model"),
    *_allow("tools[[]*[]].allowed_callers tools[[]*[]].async tools[[]*[]].defer_loading tools[[]*[]].output_schema", VLLM,
            "optional FunctionTool fields: the gateway echoes the tools as the client sent them, vLLM its parsed defaults"),
    *_allow("async caller namespace", VLLM,
            "optional ResponseFunctionToolCall fields; the gateway sets `namespace` only for a function of a namespace tool"),
    *_allow("phase", VLLM, "an optional ResponseOutputMessage field, null in vLLM"),
    *_allow("encrypted_content", VLLM,
            "an optional ResponseReasoningItem field; the gateway returns it when the request's `include` asks for "
            "reasoning.encrypted_content, as OpenAI does; vLLM sends null"),
    # vLLM deviates
    *_allow("error", GATEWAY, "Response.error: OpenAI's answers always carry it (null unless the response failed); vLLM 0.32 "
                              "leaves it out"),
    *_allow("store", GATEWAY,
            "an echo of the request's `store`, as OpenAI's and Fireworks' response objects carry it "
            "(docs.fireworks.ai/api-reference/post-responses, read 2026-12-04); not in the SDK's type, which keeps extra keys"),
    # JSON types that differ where the spec allows both
    *_allow("metadata reasoning text top_p", None,
            "nullable Response fields: the gateway echoes the request (metadata {}, reasoning {effort, summary}, "
            "text.format text, top_p as sent, null when not), vLLM sends null or its default"),
    *_allow("logprobs", None, "ResponseOutputText.logprobs is nullable: the gateway lists none ([]), vLLM sends null"),
    *_allow("output[[]*[]].status", None, "ResponseReasoningItem.status is nullable: null in vLLM's non-streamed reasoning item"),
    *_allow("item.content", None, "ResponseReasoningItem.content is nullable: [] from the gateway, null from vLLM, while the "
                                  "item is in progress", where="response.output_item.added(reasoning)"),
    *_allow("temperature", None, "a JSON number either way (the gateway echoes the request's 0, vLLM writes 0.0)"),
]

RESPONSE_EVENTS = event_types(ResponseStreamEvent)


@pytest.fixture(scope="module")
def openai_clients(real_stack) -> tuple[openai.OpenAI, openai.OpenAI]:
    """(to the gateway, to vLLM's own /v1/responses)."""
    return (openai.OpenAI(base_url=real_stack.gateway.v1, api_key="sk-client", max_retries=0, timeout=TIMEOUT_S),
            openai.OpenAI(base_url=real_stack.tool_engine.v1, api_key="unused", max_retries=0, timeout=TIMEOUT_S))


def _response_request(case: Case, to_gateway: bool) -> dict[str, Any]:
    return {"model": GATEWAY_MODEL if to_gateway else SERVED_MODEL, "input": PROMPT, "temperature": 0, **case.body,
            **(case.gateway_only if to_gateway else {}), "extra_body": {} if to_gateway else case.vllm_only}


def _items(output: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    values: list[tuple[Any, ...]] = []
    for item in output:
        if item["type"] == "function_call":
            values.append(("function_call", item["name"], orjson.loads(item["arguments"])))
        else:
            values.append((item["type"], "".join(part["text"] for part in item.get("content") or ())))
    return values


def _response_usage(usage: dict[str, Any]) -> tuple[int, int, int, int]:
    return (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"], usage["output_tokens_details"]["reasoning_tokens"])


def _assert_same_ending(case: Case, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert _items(ours["output"]) == _items(theirs["output"]) == case.content
    assert (ours["status"], ours["incomplete_details"]) == (theirs["status"], theirs["incomplete_details"])
    assert ours["status"] == case.stop
    assert _response_usage(ours["usage"]) == _response_usage(theirs["usage"])


def _vllm_label(event: dict[str, Any]) -> str:
    """vLLM's event label, its `response.completed` of a cut-short response read as the spec's `response.incomplete`."""
    if event.get("type") == "response.completed" and (event.get("response") or {}).get("status") == "incomplete":
        return "response.incomplete"
    return responses_label(event)


@pytest.mark.parametrize("case", RESPONSE_CASES, ids=_ids(RESPONSE_CASES))
def test_responses_answer_is_vllms_own(openai_clients, case):
    ours, theirs = _answers(openai_clients, case, lambda c: c.responses, _response_request)
    problems = spec_problems(ours, Response, "response") + unexplained_differences(ours, theirs, "response", RESPONSE_ALLOWANCES)
    assert not problems, _problems(case, "/v1/responses answer", problems)
    _assert_same_ending(case, ours, theirs)


@pytest.mark.parametrize("case", RESPONSE_CASES, ids=_ids(RESPONSE_CASES))
def test_responses_stream_is_vllms_own_event_by_event(openai_clients, case):
    ours, theirs = _streams(openai_clients, case, lambda c: c.responses, _response_request)
    problems = sequence_problems(labels(ours, responses_label), labels(theirs, _vllm_label))
    assert not problems, _problems(case, "/v1/responses stream", problems)
    assert [event["sequence_number"] for event in ours] == list(range(len(ours)))
    for index, event in enumerate(ours):
        problems += spec_problems(event, RESPONSE_EVENTS[event["type"]], f"events[{index}] ({responses_label(event)})")
    for (label, mine), (_, other) in zip(label_runs(ours, responses_label), label_runs(theirs, _vllm_label)):
        problems += unexplained_differences(mine, other, label, RESPONSE_ALLOWANCES)
    assert not problems, _problems(case, "/v1/responses stream", problems)
    _assert_same_ending(case, ours[-1]["response"], theirs[-1]["response"])


@pytest.mark.parametrize("case", RESPONSE_CASES, ids=_ids(RESPONSE_CASES))
def test_responses_stream_helper_ends_with_vllms_response(openai_clients, case):
    """`responses.stream()` (which checks item identities event by event) over both streams. Its
    get_final_response() waits for `response.completed`, which a cut-short response does not send (the
    spec's `response.incomplete` ends it, from OpenAI too), so the response is taken from the last event."""
    finals = []
    for client, to_gateway in zip(openai_clients, (True, False)):
        with client.responses.stream(**_response_request(case, to_gateway)) as stream:
            ends = [event.response for event in stream if event.type in ("response.completed", "response.incomplete")]
        finals.append(ends[-1].model_dump(mode="json"))
    _assert_same_ending(case, *finals)
