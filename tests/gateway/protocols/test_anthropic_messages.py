"""Anthropic Messages in and out, as tables: requests to the chat form, chat answers and streams back."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import GatewayError, InvalidRequestError, NotFoundError, UpstreamFailedError
from gateway.protocols import anthropic_messages as am
from tests.gateway.protocols.sse_events import named_events

BASE = {"model": "claude-sonnet-4-6", "max_tokens": 100}


def _chat(**body):
    return am.to_chat({**BASE, **body})


@pytest.mark.parametrize(("body", "expected"), [
    ({"messages": [{"role": "user", "content": "hi"}]},
     {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}),
    ({"system": "Be brief.", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]},
     {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a\nb"}]}),
    ({"system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.9.e1; cc_entrypoint=cli; cch=9a8b7;"},
                 {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
      "messages": [{"role": "user", "content": "hi"}]},
     {"messages": [{"role": "system", "content": "You are Claude Code."}, {"role": "user", "content": "hi"}]}),
    ({"system": "x-anthropic-billing-header: cc_version=2.1.9; cch=00001;\nYou are Claude Code.", "messages": [{"role": "user", "content": "hi"}]},
     {"messages": [{"role": "system", "content": "You are Claude Code."}, {"role": "user", "content": "hi"}]}),
    ({"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "text", "text": "what is this"}]}]},
     {"messages": [{"role": "user", "content": [
         {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
         {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
         {"type": "text", "text": "what is this"}]}]}),
    ({"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "call the tool", "signature": "s"},
                                          {"type": "redacted_thinking", "data": "opaque"},
                                          {"type": "text", "text": "Let me check."},
                                          {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "text", "text": "thanks"},
                                     {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
                                     {"type": "tool_result", "tool_use_id": "toolu_2", "content": "boom", "is_error": True}]}]},
     {"messages": [
         {"role": "user", "content": "weather?"},
         {"role": "assistant", "content": "Let me check.", "reasoning_content": "call the tool",
          "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
         {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
         {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: boom"},
         {"role": "user", "content": "thanks"}]}),
    ({"messages": [{"role": "user", "content": "hi"}],
      "tools": [{"name": "get_weather", "description": "w", "input_schema": {"type": "object"}}],
      "tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
     {"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}, "description": "w"}}],
      "tool_choice": "required", "parallel_tool_calls": False}),
    ({"messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "t", "input_schema": {}}],
      "tool_choice": {"type": "tool", "name": "t"}},
     {"tool_choice": {"type": "function", "function": {"name": "t"}}}),
    ({"messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "t", "input_schema": {}}], "tool_choice": {"type": "none"}},
     {"tool_choice": "none"}),
    ({"messages": [{"role": "user", "content": "hi"}],  # strict: the input must match the schema (structured outputs upstream)
      "tools": [{"name": "t", "input_schema": {"type": "object"}, "strict": True}, {"name": "u", "input_schema": {}, "strict": False}]},
     {"tools": [{"type": "function", "function": {"name": "t", "parameters": {"type": "object"}, "strict": True}},
                {"type": "function", "function": {"name": "u", "parameters": {"type": "object"}, "strict": False}}]}),
    ({"system": "s", "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": [{"type": "text", "text": "env"}]},
                                  {"role": "user", "content": "go"}]},
     {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}, {"role": "system", "content": "env"},
                   {"role": "user", "content": "go"}]}),
    ({"messages": [{"role": "user", "content": "hi"}], "stop_sequences": ["###"], "temperature": 0.3, "top_p": 0.9,
      "metadata": {"user_id": "u-1"}, "stream": True, "top_k": 5},
     {"stop": ["###"], "temperature": 0.3, "top_p": 0.9, "user": "u-1", "stream": True}),
    ({"messages": [{"role": "user", "content": "hi"}], "thinking": {"type": "enabled", "budget_tokens": 20000}},
     {"thinking": {"type": "enabled"}, "reasoning_effort": "high"}),
    ({"messages": [{"role": "user", "content": "hi"}], "thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}},
     {"thinking": {"type": "enabled"}, "reasoning_effort": "low"}),
    ({"messages": [{"role": "user", "content": "hi"}], "thinking": {"type": "disabled"}}, {"thinking": {"type": "disabled"}}),
    ({"messages": [{"role": "user", "content": "hi"}], "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
     {"response_format": {"type": "json_schema", "json_schema": {"name": "output", "schema": {"type": "object"}, "strict": True}}}),
])
def test_requests_translate_to_the_chat_form(body, expected):
    chat = _chat(**body)
    assert {k: chat[k] for k in expected} == expected
    assert "top_k" not in chat and "metadata" not in chat


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, "model"),
    ({**BASE, "messages": []}, "messages"),
    ({**BASE, "messages": [{"role": "tool", "content": "hi"}]}, "messages.0.role"),
    ({**BASE, "messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages.0.content.0"),
    ({**BASE, "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0"),
    ({**BASE, "messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "t", "input_schema": {}}],
      "tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
])
def test_bad_requests_name_the_parameter(body, param):
    with pytest.raises(InvalidRequestError) as raised:
        am.to_chat(body)
    assert raised.value.param == param


def test_the_clients_body_is_not_mutated():
    body = {**BASE, "system": [{"type": "text", "text": "s"}], "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}
    before = orjson.dumps(body)
    am.to_chat(body)
    assert orjson.dumps(body) == before


@pytest.mark.parametrize(("error", "status", "kind"), [
    (InvalidRequestError("x"), 400, "invalid_request_error"),
    (NotFoundError("x"), 404, "not_found_error"),
    (UpstreamFailedError("x", status=429, code="rate_limited", retryable=True), 429, "rate_limit_error"),
    (UpstreamFailedError("x", status=503, code="no_backend_available", retryable=True), 529, "overloaded_error"),
    (UpstreamFailedError("x", status=502, code="server_error", retryable=True), 502, "api_error"),
    (UpstreamFailedError("x", status=504, code="timeout", retryable=True), 504, "timeout_error"),
])
def test_errors_map_to_anthropics_status_and_type(error, status, kind):
    assert am.error_status_and_type(error) == (status, kind)


def test_an_auth_error_is_authentication_error():
    error = GatewayError("bad key")
    error.status = 401
    assert am.error_status_and_type(error) == (401, "authentication_error")
    assert orjson.loads(am.error_body("authentication_error", "bad key")) == {
        "type": "error", "error": {"type": "authentication_error", "message": "bad key"}}


def _completion(message, finish="stop", usage=None):
    return orjson.dumps({"choices": [{"index": 0, "message": message, "finish_reason": finish}],
                         "usage": usage or {"prompt_tokens": 30, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 16}}})


@pytest.mark.parametrize(("message", "finish", "blocks", "stop"), [
    ({"role": "assistant", "content": "hello"}, "stop", [{"type": "text", "text": "hello"}], "end_turn"),
    ({"role": "assistant", "content": "hel"}, "length", [{"type": "text", "text": "hel"}], "max_tokens"),
    ({"role": "assistant", "content": None, "reasoning_content": "think",
      "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}, "tool_calls",
     [{"type": "thinking", "thinking": "think"}, {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}], "tool_use"),
])
def test_chat_answers_become_messages(message, finish, blocks, stop):
    out = orjson.loads(am.message_from_chat(_completion(message, finish), message_id="msg_1", model="claude-x"))
    for block in out["content"]:
        block.pop("signature", None)
    assert out["content"] == blocks and out["stop_reason"] == stop and out["model"] == "claude-x" and out["type"] == "message"
    assert out["usage"] == {"input_tokens": 14, "output_tokens": 7, "cache_read_input_tokens": 16, "cache_creation_input_tokens": 0}


CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":'}}


@pytest.mark.parametrize(("choice", "stop"), [
    ({"finish_reason": "stop", "stop_reason": " routes"}, ("stop_sequence", " routes")),  # vLLM: the matched stop string
    ({"finish_reason": "stop", "matched_stop": "###"}, ("stop_sequence", "###")),  # SGLang
    ({"finish_reason": "stop", "stop_reason": 2}, ("end_turn", None)),  # a stop token id, not a stop sequence
    ({"finish_reason": "stop", "stop_reason": None}, ("end_turn", None)),  # end of sequence
    ({"finish_reason": "length", "stop_reason": None, "tool_calls": [CALL]}, ("max_tokens", None)),  # a cut-short call must not run
    ({"finish_reason": "stop", "stop_reason": None, "tool_calls": [CALL]}, ("tool_use", None)),  # a named tool choice ends "stop"
])
def test_stop_reasons_follow_anthropics_rules(choice, stop):
    """Anthropic: `stop_sequence` with the string when a custom stop sequence ended the turn; `max_tokens`
    whenever the limit cut the answer, tool call or not (then `tool_use`, then `end_turn`)."""
    message = {"role": "assistant", "content": "a", **({"tool_calls": choice.pop("tool_calls")} if "tool_calls" in choice else {})}
    content = orjson.dumps({"choices": [{"index": 0, "message": message, **choice}]})
    out = orjson.loads(am.message_from_chat(content, message_id="msg_1", model="claude-x"))
    assert (out["stop_reason"], out["stop_sequence"]) == stop
    stream = am.AnthropicStream(message_id="msg_1", model="claude-x", input_estimate=3)
    delta = {"tool_calls": [{"index": 0, **message["tool_calls"][0]}]} if "tool_calls" in message else {"content": "a"}
    finish = {"choices": [{"index": 0, "delta": {}, **choice}]}
    streamed = _sse(delta) + b"data: " + orjson.dumps(finish) + b"\n\ndata: [DONE]\n\n"
    [message_delta] = [e for e in named_events(stream.feed(streamed)) if e["type"] == "message_delta"]
    assert message_delta["delta"] == {"stop_reason": stop[0], "stop_sequence": stop[1]}


def _sse(*deltas, finish=None, usage=None):
    events = [b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": d, "finish_reason": None}]}) + b"\n\n" for d in deltas]
    if finish:
        events.append(b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}) + b"\n\n")
    if usage:
        events.append(b"data: " + orjson.dumps({"choices": [], "usage": usage}) + b"\n\n")
    return b"".join(events)


def _shape(event):
    kind = event["type"]
    if kind == "content_block_start":
        return kind, event["index"], event["content_block"]["type"]
    if kind == "content_block_delta":
        return kind, event["index"], event["delta"]["type"]
    if kind == "content_block_stop":
        return kind, event["index"]
    return (kind,)


def test_a_stream_is_one_open_block_at_a_time_in_anthropics_order():
    stream = am.AnthropicStream(message_id="msg_1", model="claude-x", input_estimate=40)
    chunks = [
        _sse({"role": "assistant", "content": ""}, {"reasoning_content": "let"}, {"reasoning_content": " me"}),
        _sse({"content": "I will"}, {"content": " call"},
             {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}]},
             {"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]}),
        _sse({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
             {"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
             finish="tool_calls", usage={"prompt_tokens": 50, "completion_tokens": 9}),
        b"data: [DONE]\n\n",
    ]
    events = [e for chunk in chunks for e in named_events(stream.feed(chunk))]
    assert [_shape(e) for e in events] == [
        ("message_start",),
        ("content_block_start", 0, "thinking"), ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "thinking_delta"), ("content_block_delta", 0, "signature_delta"), ("content_block_stop", 0),
        ("content_block_start", 1, "text"), ("content_block_delta", 1, "text_delta"), ("content_block_delta", 1, "text_delta"),
        ("content_block_stop", 1),
        ("content_block_start", 2, "tool_use"), ("content_block_delta", 2, "input_json_delta"),  # no empty partial_json
        ("content_block_delta", 2, "input_json_delta"), ("content_block_stop", 2),
        ("content_block_start", 3, "tool_use"), ("content_block_delta", 3, "input_json_delta"), ("content_block_stop", 3),
        ("message_delta",), ("message_stop",),
    ]
    assert events[0]["message"]["usage"]["input_tokens"] == 40
    assert "".join(e["delta"]["partial_json"] for e in events if e.get("index") == 2 and "delta" in e) == '{"x":1}'
    assert events[10]["content_block"] == {"type": "tool_use", "id": "call_a", "name": "f", "input": {}}
    assert events[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[-2]["usage"] == {"input_tokens": 50, "output_tokens": 9, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}


def test_a_provider_repeating_the_call_id_on_every_fragment_still_makes_one_block():
    stream = am.AnthropicStream(message_id="msg_1", model="claude-x", input_estimate=3)
    call = {"index": 0, "id": "call_a", "type": "function"}
    chunk = _sse({"tool_calls": [{**call, "function": {"name": "f", "arguments": '{"x":'}}]},
                 {"tool_calls": [{**call, "function": {"name": "f", "arguments": "1}"}}]}, finish="tool_calls")
    events = named_events(stream.feed(chunk) + stream.feed(b"data: [DONE]\n\n"))
    assert [_shape(e) for e in events] == [("message_start",), ("content_block_start", 0, "tool_use"),
                                           ("content_block_delta", 0, "input_json_delta"), ("content_block_delta", 0, "input_json_delta"),
                                           ("content_block_stop", 0), ("message_delta",), ("message_stop",)]


def test_a_stream_failing_midway_ends_with_an_error_event():
    stream = am.AnthropicStream(message_id="msg_1", model="claude-x", input_estimate=3)
    first = named_events(stream.feed(_sse({"content": "hi"})))
    failed = named_events(stream.feed(b'event: error\ndata: {"error":{"message":"backend b failed mid-stream","type":"upstream_error"}}\n\n'))
    assert [e["type"] for e in first] == ["message_start", "content_block_start", "content_block_delta"]
    assert failed == [{"type": "error", "error": {"type": "api_error", "message": "backend b failed mid-stream"}}]
