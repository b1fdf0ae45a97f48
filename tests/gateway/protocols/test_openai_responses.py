"""OpenAI Responses in and out, as tables: requests to the chat form, chat answers and streams back."""

from __future__ import annotations

import base64

import orjson
import pytest
from openai.types.responses import Response

from gateway.errors import InvalidRequestError
from gateway.protocols import openai_responses as orp
from tests.gateway.protocols.sse_events import named_events

FN = {"type": "function", "name": "get_weather", "description": "w", "parameters": {"type": "object"}, "strict": True}


@pytest.mark.parametrize(("body", "expected"), [
    ({"input": "hi"}, {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}),
    ({"instructions": "Be brief.", "input": [{"role": "developer", "content": "d"},
                                              {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]}]},
     {"messages": [{"role": "system", "content": "Be brief."}, {"role": "developer", "content": "d"}, {"role": "user", "content": "a"}]}),
    ({"input": [{"role": "user", "content": [{"type": "input_text", "text": "look"},
                                             {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"}]}]},
     {"messages": [{"role": "user", "content": [{"type": "text", "text": "look"},
                                                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}}]}]}),
    ({"input": [{"role": "user", "content": "weather?"},
                {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "use the tool"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
                {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": '{"city":"Rome"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
                {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "rain"}]}]},
     {"messages": [
         {"role": "user", "content": "weather?"},
         {"role": "assistant", "content": "Checking.", "reasoning_content": "use the tool",
          "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
                         {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
         {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
         {"role": "tool", "tool_call_id": "call_2", "content": "rain"}]}),
    ({"input": [{"role": "user", "content": "x"},
                {"type": "reasoning", "summary": [], "encrypted_content": orp.ENCRYPTED_PREFIX + base64.b64encode(b"hidden").decode()},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]},
     {"messages": [{"role": "user", "content": "x"},
                   {"role": "assistant", "content": None, "reasoning_content": "hidden",
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}),
    ({"input": "hi", "tools": [FN], "tool_choice": {"type": "function", "name": "get_weather"}, "parallel_tool_calls": False},
     {"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}, "description": "w",
                                                  "strict": True}}],
      "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": False}),
    ({"input": "hi", "reasoning": {"effort": "minimal", "summary": "auto"}, "max_output_tokens": 50, "temperature": 0.5,
      "stream": True, "user": "u"},
     {"reasoning_effort": "low", "max_tokens": 50, "temperature": 0.5, "stream": True, "user": "u"}),
    ({"input": "hi", "reasoning": {"effort": "none"}}, {"reasoning_effort": "none"}),
    ({"input": "hi", "text": {"format": {"type": "json_schema", "name": "City", "schema": {"type": "object"}, "strict": True}}},
     {"response_format": {"type": "json_schema", "json_schema": {"name": "City", "schema": {"type": "object"}, "strict": True}}}),
    ({"input": "hi", "text": {"format": {"type": "json_object"}}}, {"response_format": {"type": "json_object"}}),
])
def test_requests_translate_to_the_chat_form(body, expected):
    chat, _ = orp.to_chat({"model": "gpt-5", **body})
    assert {k: chat[k] for k in expected} == expected


def test_codex_tools_namespaces_flatten_and_built_in_tools_are_left_out():
    tools = [FN, {"type": "namespace", "name": "multi_agent_v1", "description": "agents",
                  "tools": [{"type": "function", "name": "close_agent", "parameters": {"type": "object"}}]},
             {"type": "web_search", "external_web_access": False}]
    chat, _ = orp.to_chat({"model": "gpt-5", "input": "hi", "tools": tools})
    assert [t["function"]["name"] for t in chat["tools"]] == ["get_weather", "close_agent"]
    chat, _ = orp.to_chat({"model": "gpt-5", "input": "hi", "tools": [{"type": "web_search"}], "tool_choice": "auto"})
    assert "tools" not in chat and "tool_choice" not in chat
    content = orjson.dumps({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "close_agent", "arguments": "{}"}}]}}]})
    [call] = orp.response_from_chat(content, orp.ResponseSkeleton({"model": "gpt-5", "tools": tools}, response_id="resp_1"))["output"]
    assert (call["name"], call["namespace"]) == ("close_agent", "multi_agent_v1")


def test_the_previous_conversation_goes_first_and_instructions_are_not_stored():
    previous = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    chat, history = orp.to_chat({"model": "gpt-5", "instructions": "new rules", "input": "again"}, previous)
    assert chat["messages"] == [{"role": "system", "content": "new rules"}, *previous, {"role": "user", "content": "again"}]
    assert history == [*previous, {"role": "user", "content": "again"}]


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "hi"}, "model"),
    ({"model": "gpt-5"}, "input"),
    ({"model": "gpt-5", "input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
    ({"model": "gpt-5", "input": "hi", "tools": [{"type": "teleport"}]}, "tools[0]"),
    ({"model": "gpt-5", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "gpt-5", "input": "hi", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
])
def test_bad_requests_name_the_parameter(body, param):
    with pytest.raises(InvalidRequestError) as raised:
        orp.to_chat(body)
    assert raised.value.param == param


def _skeleton(**body):
    return orp.ResponseSkeleton({"model": "gpt-5", "input": "hi", **body}, response_id="resp_abc", created_at=1_800_000_000)


def test_a_chat_answer_becomes_a_response_with_reasoning_message_and_calls():
    content = orjson.dumps({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Checking.", "reasoning_content": "think",
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 8, "prompt_tokens_details": {"cached_tokens": 4},
                  "completion_tokens_details": {"reasoning_tokens": 3}}})
    response = orp.response_from_chat(content, _skeleton(include=["reasoning.encrypted_content"], store=False))
    assert (response["id"], response["object"], response["status"], response["store"]) == ("resp_abc", "response", "completed", False)
    reasoning, message, call = response["output"]
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "think"}]
    assert base64.b64decode(reasoning["encrypted_content"][len(orp.ENCRYPTED_PREFIX):]) == b"think"
    assert message["content"][0]["text"] == "Checking." and message["role"] == "assistant"
    assert (call["type"], call["call_id"], call["name"], call["arguments"]) == ("function_call", "call_1", "f", '{"a":1}')
    assert response["usage"] == {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
                                 "output_tokens": 8, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 28}
    Response.model_validate(response)  # the SDK's type: every required field (cache_write_tokens among them) is there
    assert orp.assistant_message(response["output"]) == {
        "role": "assistant", "content": "Checking.", "reasoning_content": "think",
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}


def test_a_truncated_answer_is_incomplete():
    content = orjson.dumps({"choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "a"}}]})
    response = orp.response_from_chat(content, _skeleton())
    assert response["status"] == "incomplete" and response["incomplete_details"] == {"reason": "max_output_tokens"}


def _sse(*deltas, finish=None, usage=None):
    events = [b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": d, "finish_reason": None}]}) + b"\n\n" for d in deltas]
    if finish:
        events.append(b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage}) + b"\n\n")
    return b"".join(events)


def test_a_stream_has_the_real_event_names_and_numberednamed_events():
    stream = orp.ResponsesStream(_skeleton())
    chunks = [
        _sse({"role": "assistant", "content": ""}, {"reasoning_content": "hm"}),
        _sse({"content": "Hi"}, {"content": " there"},
             {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
        _sse({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}, {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
             finish="tool_calls", usage={"prompt_tokens": 9, "completion_tokens": 5}),
        b"data: [DONE]\n\n",
    ]
    events = [e for chunk in chunks for e in named_events(stream.feed(chunk))]
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added", "response.reasoning_text.delta",
        "response.reasoning_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.added"] == [0, 1, 2]
    assert events[12]["text"] == "Hi there" and events[18]["arguments"] == '{"a":1}'
    added = [e["item"]["id"] for e in events if e["type"] == "response.output_item.added"]
    done = [e["item"]["id"] for e in events if e["type"] == "response.output_item.done"]
    assert added == done and len(set(added)) == 3
    final = events[-1]["response"]
    assert final["status"] == "completed" and [i["type"] for i in final["output"]] == ["reasoning", "message", "function_call"]
    assert final["usage"]["output_tokens"] == 5 and stream.response == final


def test_a_stream_failing_midway_ends_with_response_failed():
    stream = orp.ResponsesStream(_skeleton())
    first = named_events(stream.feed(_sse({"content": "Hi"})))
    failed = named_events(stream.feed(b'event: error\ndata: {"error":{"message":"backend b failed mid-stream"}}\n\n'))
    assert [e["type"] for e in first] == ["response.created", "response.in_progress", "response.output_item.added",
                                         "response.content_part.added", "response.output_text.delta"]
    assert [e["type"] for e in failed] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                                          "response.failed"]
    assert failed[-1]["response"]["error"] == {"code": "server_error", "message": "backend b failed mid-stream"}
