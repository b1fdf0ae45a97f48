"""Reading dispatch's relayed chat stream: the unparsed fast path cuts the same strings the parser reads."""

from __future__ import annotations

import orjson
import pytest

from gateway.protocols import chat_stream as cs


def _event(obj) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


@pytest.mark.parametrize("text", ["plain", ' quote " inside', "back\\slash\\", 'both \\" and "\\', "tab\tnewline\n", "ünï 文字 🚀", '}"'])
@pytest.mark.parametrize("key", ["content", "reasoning_content"])
def test_a_lone_text_delta_is_cut_out_exactly(text, key):
    chunk = _event({"id": "c", "choices": [{"index": 0, "delta": {key: text}, "logprobs": None, "finish_reason": None}]})
    [(kind, literal)] = list(cs.chat_deltas(chunk))
    assert kind == (cs.TEXT if key == "content" else cs.REASONING)
    assert orjson.loads(literal) == text and cs.decode_literals([literal, literal]) == text * 2


@pytest.mark.parametrize("obj", [
    {"choices": [{"index": 0, "delta": {"content": "a", "role": "assistant"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}]},
    {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
])
def test_events_carrying_more_are_parsed_and_lose_nothing(obj):
    kinds = [d[0] for d in cs.chat_deltas(_event(obj))]
    assert kinds[0] == cs.TEXT
    assert (cs.FINISH in kinds) == (obj["choices"][0]["finish_reason"] is not None)
    assert (cs.USAGE in kinds) == ("usage" in obj)


def test_a_chunk_of_several_events_then_done_and_an_error():
    chunk = (_event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
             + _event({"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]})
             + _event({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}]},
                                    "finish_reason": None}]})
             + _event({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]},
                                    "finish_reason": None}]})
             + b"data: [DONE]\n\n")
    assert list(cs.chat_deltas(chunk)) == [(cs.TEXT, b'"hi"'), (cs.TOOL_START, 0, "c1", "f"), (cs.TOOL_ARGS, 0, b'"{\\"a\\""'), (cs.DONE,)]
    error = b'event: error\ndata: {"error":{"message":"backend x failed mid-stream","type":"upstream_error"}}\n\n'
    assert list(cs.chat_deltas(error)) == [(cs.ERROR, "backend x failed mid-stream")]
