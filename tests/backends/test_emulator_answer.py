"""The emulator's answers are deterministic, honour tools and JSON modes, and cache prefixes."""

from __future__ import annotations

import json

from backends.emulator.answer import plan_answer
from backends.emulator.prefix_cache import PrefixCache

BODY = {"messages": [{"role": "user", "content": "hello"}]}
TOOLS = [
    {"type": "function", "function": {"name": "first", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "second", "parameters": {"type": "object", "properties": {
        "unit": {"enum": ["c", "f"]}, "tags": {"type": "array", "items": {"type": "string"}}, "ok": {"type": "boolean"}}}}},
]


def test_same_seed_and_request_give_the_same_answer_and_another_seed_another():
    assert plan_answer(BODY, thinking=False, seed=1).content == plan_answer(BODY, thinking=False, seed=1).content
    assert plan_answer(BODY, thinking=False, seed=1).content != plan_answer(BODY, thinking=False, seed=2).content


def test_max_tokens_bounds_the_output_including_reasoning():
    answer = plan_answer({**BODY, "max_tokens": 10}, thinking=True, seed=0)
    assert (len(answer.reasoning), len(answer.content), answer.completion_tokens) == (5, 5, 10)
    assert answer.finish_reason == "length"


def test_default_length_stops_naturally():
    answer = plan_answer(BODY, thinking=False, seed=0)
    assert (answer.completion_tokens, answer.finish_reason) == (16, "stop")


def test_named_tool_choice_calls_that_tool_with_arguments_matching_its_schema():
    answer = plan_answer({**BODY, "tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "second"}}}, thinking=False, seed=0)
    call = answer.tool_calls[0]
    arguments = json.loads(call.arguments)
    assert call.name == "second" and answer.finish_reason == "tool_calls"
    assert arguments["unit"] == "c" and isinstance(arguments["tags"][0], str) and isinstance(arguments["ok"], bool)


def test_tool_choice_none_and_tool_results_get_text():
    assert plan_answer({**BODY, "tools": TOOLS, "tool_choice": "none"}, thinking=False, seed=0).tool_calls == []
    after_tool = {"messages": [*BODY["messages"], {"role": "tool", "tool_call_id": "x", "content": "42"}], "tools": TOOLS}
    assert plan_answer(after_tool, thinking=False, seed=0).tool_calls == []


def test_json_modes_produce_parseable_output():
    answer = plan_answer({**BODY, "response_format": {"type": "json_object"}}, thinking=False, seed=0)
    assert isinstance(json.loads("".join(answer.content)), dict)
    schema = {"type": "object", "properties": {"n": {"type": "number"}, "inner": {"type": "object", "properties": {"s": {"type": "string"}}}}}
    answer = plan_answer({**BODY, "response_format": {"type": "json_schema", "json_schema": {"schema": schema}}}, thinking=False, seed=0)
    parsed = json.loads("".join(answer.content))
    assert isinstance(parsed["n"], float) and isinstance(parsed["inner"]["s"], str)


def test_prefix_cache_hits_whole_blocks_of_previously_seen_message_prefixes():
    cache = PrefixCache(block_tokens=16)
    system = {"role": "system", "content": "x" * 400}  # about 110 tokens with its JSON
    assert cache.lookup_and_insert([system, {"role": "user", "content": "a"}]) == 0
    cached = cache.lookup_and_insert([system, {"role": "user", "content": "b"}])
    assert cached > 0 and cached % 16 == 0
    assert cache.lookup_and_insert([{"role": "user", "content": "new"}]) == 0
