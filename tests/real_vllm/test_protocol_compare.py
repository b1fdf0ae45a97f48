"""The agent-protocol comparison helpers (`protocol_compare.py`); pure, these run without the engine."""

from __future__ import annotations

import anthropic.types as at
from openai.types.responses import ResponseStreamEvent

from tests.real_vllm.protocol_compare import (
    GATEWAY, VLLM, Allowance, anthropic_label, event_types, label_runs, labels, responses_label, sequence_problems,
    spec_problems, unexplained_differences,
)

THINKING_STREAM = [
    {"type": "message_start", "message": {}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": " let"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": " me"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_stop"},
]


def test_labels_carry_the_block_delta_item_and_part_type_and_collapse_runs():
    assert labels(THINKING_STREAM, anthropic_label) == [
        "message_start", "content_block_start(thinking)", "content_block_delta(thinking_delta)",
        "content_block_delta(signature_delta)", "content_block_stop", "message_stop"]
    assert [label for label, _ in label_runs(THINKING_STREAM, anthropic_label)][2:4] == [
        "content_block_delta(thinking_delta)", "content_block_delta(signature_delta)"]
    assert responses_label({"type": "response.output_item.added", "item": {"type": "function_call"}}) == \
        "response.output_item.added(function_call)"
    assert responses_label({"type": "response.content_part.done", "part": {"type": "output_text"}}) == \
        "response.content_part.done(output_text)"
    assert responses_label({"type": "response.output_text.delta"}) == "response.output_text.delta"


def test_a_sequence_difference_names_where_the_streams_part():
    assert sequence_problems(["a", "b"], ["a", "b"]) == []
    problems = sequence_problems(["a", "b", "d"], ["a", "c", "d"])
    assert problems[0] == f"events[1] (runs collapsed): b from {GATEWAY}, c from {VLLM}"
    assert sequence_problems(["a"], ["a", "b"])[0] == f"events[1] (runs collapsed): (end) from {GATEWAY}, b from {VLLM}"


def test_only_a_matching_allowance_explains_a_difference():
    ours, theirs = {"usage": {"input_tokens": 1, "cache_read_input_tokens": 0}}, {"usage": {"input_tokens": 1}, "x": None}
    allow = [Allowance("message $*usage.cache_read_input_tokens", GATEWAY, "why")]
    assert unexplained_differences(ours, theirs, "message", allow) == ["message $.x: only in vLLM (null)"]
    assert unexplained_differences(ours, theirs, "message_delta", allow) == [
        "message_delta $.usage.cache_read_input_tokens: only in the gateway (0)", "message_delta $.x: only in vLLM (null)"]
    wrong_side = [Allowance("message $*usage.cache_read_input_tokens", VLLM, "why")]
    assert len(unexplained_differences(ours, theirs, "message", wrong_side)) == 2
    typed = [Allowance("* $.t", None, "a JSON number either way")]
    assert unexplained_differences({"t": 0}, {"t": 0.0}, "response", typed) == []


def test_spec_problems_name_the_missing_or_mistyped_field_by_the_sdks_types():
    start = THINKING_STREAM[1]
    assert spec_problems(start, at.RawContentBlockStartEvent, "e") == []
    without_signature = {**start, "content_block": {"type": "thinking", "thinking": ""}}
    assert spec_problems(without_signature, at.RawContentBlockStartEvent, "e") == [  # the thinking member's error only
        "e: content_block.ThinkingBlock.signature: Field required"]
    models = event_types(ResponseStreamEvent)
    assert models["response.incomplete"].__name__ == "ResponseIncompleteEvent"
    assert event_types(at.RawMessageStreamEvent)["message_delta"] is at.RawMessageDeltaEvent
