"""The comparison helpers of the contract tests (pure; these run without the engine)."""

from __future__ import annotations

import pytest

from tests.real_vllm.shapes import (
    SseEvent, event_sequence, metric_differences, metric_samples, parse_sse, shape_differences, stream_differences,
)


@pytest.mark.parametrize(("ours", "theirs", "expected"), [
    ({"a": 1, "b": "x"}, {"a": 2, "b": "y"}, []),
    ({"a": 1}, {"a": 1.5}, ["$.a: int in the emulator (1), float in vLLM (1.5)"]),
    ({"a": None}, {"a": "x"}, ['$.a: null in the emulator (null), str in vLLM ("x")']),
    ({"m": {"reasoning_content": "r"}}, {"m": {"reasoning": "r"}},
     ['$.m.reasoning: only in vLLM ("r")', '$.m.reasoning_content: only in the emulator ("r")']),
    ({"c": [{"i": 0}, {"i": 1, "x": 1}]}, {"c": [{"i": 0}]}, []),  # lengths are data
    ({"c": [{"i": 0, "x": 1}]}, {"c": [{"i": 0}]}, ["$.c[0].x: only in the emulator (1)"]),
])
def test_shape_differences_name_each_field(ours, theirs, expected):
    assert shape_differences(ours, theirs) == expected


def _chunk(delta=None, finish=None, usage=None, **extra):
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "x", "choices": choices, **({"usage": usage} if usage else {}), **extra}


def test_streams_compare_run_by_run_whatever_the_token_count():
    ours = [_chunk({"role": "assistant"}), *[_chunk({"content": "a"})] * 5, _chunk({"content": ""}, "stop")]
    theirs = [_chunk({"role": "assistant"}), *[_chunk({"content": "b"})] * 2, _chunk({"content": ""}, "stop")]
    assert stream_differences(ours, theirs) == []


def test_a_stream_difference_names_the_chunk_and_the_field():
    ours = [_chunk({"content": "a"}), _chunk({}, "stop")]
    theirs = [_chunk({"content": "a"}), _chunk({"content": ""}, "stop"), _chunk(usage={"prompt_tokens": 1})]
    problems = stream_differences(ours, theirs)
    assert problems[0] == 'chunks[1] (finish chunk).choices[0].delta.content: only in vLLM ("")'
    assert problems[1].startswith("chunks[2] (usage chunk): only in vLLM")


def test_sse_bodies_parse_into_named_events_and_their_type_sequence():
    body = ('event: message_start\ndata: {"type": "message_start"}\n\n'
            'event: content_block_delta\ndata: {"type": "content_block_delta"}\n\n'
            'event: content_block_delta\ndata: {"type": "content_block_delta"}\n\n'
            ': keep-alive\n\ndata: [DONE]\n\n')
    events = parse_sse(body)
    assert events[0] == SseEvent("message_start", {"type": "message_start"}) and events[-1].data == "[DONE]"
    assert event_sequence(events) == ["message_start", "content_block_delta", "[DONE]"]
    assert len(event_sequence(events, collapse=False)) == 4


PAGE = """# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 0.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 0.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 0.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.0
"""


def test_metric_differences_compare_names_label_names_and_buckets():
    theirs = metric_samples(PAGE, "vllm:")
    assert metric_differences(metric_samples(PAGE.replace('"m"', '"other"'), "vllm:"), theirs, theirs) == []
    unlabelled = metric_samples(PAGE.replace('{engine="0",model_name="m"}', '{model_name="m"}'), "vllm:")
    assert metric_differences(unlabelled, theirs, ["vllm:num_requests_waiting"]) == [
        "vllm:num_requests_waiting: labels ['model_name'] in the emulator, ['engine', 'model_name'] in vLLM"]
    rebucketed = metric_samples(PAGE.replace('le="0.1"', 'le="0.25"'), "vllm:")
    assert metric_differences(rebucketed, theirs, ["vllm:time_to_first_token_seconds"]) == [
        "vllm:time_to_first_token_seconds: bucket bounds [0.25, inf] in the emulator, [0.1, inf] in vLLM"]
    assert metric_differences({}, theirs, ["vllm:num_requests_waiting"]) == [
        "vllm:num_requests_waiting: not exported by the emulator"]
