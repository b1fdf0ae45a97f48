"""Thinking on and off, translated to each provider's own switch, seen at the upstream."""

from __future__ import annotations

import httpx
import openai
import pytest

pytestmark = pytest.mark.slow

HELLO = [{"role": "user", "content": "Why is the sky blue?"}]

# alias -> (emulator, what the upstream must receive for thinking on, ... for thinking off)
SWITCHES = {
    "via-vllm": ("vllm", {"chat_template_kwargs": {"thinking": True}}, {"chat_template_kwargs": {"thinking": False}}),
    "via-sglang": ("sglang", {"chat_template_kwargs": {"thinking": True}}, {"chat_template_kwargs": {"thinking": False}}),
    "via-novita": ("novita", {"enable_thinking": True}, {"enable_thinking": False}),
    "via-fireworks": ("fireworks", {"reasoning_effort": "high"}, {"reasoning_effort": "none"}),
    "via-deepseek": ("deepseek", {"thinking": {"type": "enabled"}}, {"thinking": {"type": "disabled"}}),
}
FOREIGN_KEYS = {"chat_template_kwargs", "enable_thinking", "reasoning_effort", "thinking"}


@pytest.fixture()
def client(provider_stack) -> openai.OpenAI:
    provider_stack.clear_requests()
    return openai.OpenAI(base_url=provider_stack.gateway.v1, api_key="sk-client", max_retries=0)


def _sent(stack, emulator: str) -> dict:
    return stack.upstream_requests(emulator)[-1]["body"]


def _only_own_switch(body: dict, expected: dict) -> None:
    for key, value in expected.items():
        assert body[key] == value
    assert not (FOREIGN_KEYS - set(expected)) & set(body), f"foreign thinking switch in {body}"


@pytest.mark.parametrize("alias", list(SWITCHES))
def test_thinking_on_uses_the_providers_own_switch_and_returns_reasoning_content(client, provider_stack, alias):
    emulator, on, _ = SWITCHES[alias]
    completion = client.chat.completions.create(model=alias, messages=HELLO, max_tokens=12, reasoning_effort="high")
    _only_own_switch(_sent(provider_stack, emulator), on)
    message = completion.choices[0].message
    assert message.reasoning_content  # vLLM's `reasoning` arrives renamed
    assert getattr(message, "reasoning", None) is None


@pytest.mark.parametrize("alias", list(SWITCHES))
def test_thinking_off_uses_the_providers_own_switch_and_returns_no_reasoning(client, provider_stack, alias):
    emulator, _, off = SWITCHES[alias]
    completion = client.chat.completions.create(
        model=alias, messages=HELLO, max_tokens=6, extra_body={"thinking": {"type": "disabled"}}
    )
    _only_own_switch(_sent(provider_stack, emulator), off)
    assert getattr(completion.choices[0].message, "reasoning_content", None) is None
    assert completion.usage.completion_tokens == 6


def test_request_without_a_thinking_signal_turns_novita_thinking_off_explicitly(client, provider_stack):
    completion = client.chat.completions.create(model="via-novita", messages=HELLO, max_tokens=4)
    assert _sent(provider_stack, "novita")["enable_thinking"] is False
    assert getattr(completion.choices[0].message, "reasoning_content", None) is None


def test_request_without_a_thinking_signal_leaves_vllm_untouched(client, provider_stack):
    client.chat.completions.create(model="via-vllm", messages=HELLO, max_tokens=4)
    assert not FOREIGN_KEYS & set(_sent(provider_stack, "vllm"))


def test_thinking_model_alias_turns_thinking_on(client, provider_stack):
    completion = client.chat.completions.create(model="deepseek-reasoner", messages=HELLO, max_tokens=12)
    assert _sent(provider_stack, "vllm")["chat_template_kwargs"] == {"thinking": True}
    assert completion.choices[0].message.reasoning_content


def test_streamed_vllm_reasoning_is_renamed_in_every_delta(provider_stack):
    body = {"model": "via-vllm", "messages": HELLO, "max_tokens": 12, "stream": True, "reasoning_effort": "high"}
    with httpx.stream("POST", f"{provider_stack.gateway.v1}/chat/completions", json=body) as response:
        text = response.read().decode()
    assert '"reasoning_content":' in text
    assert '"reasoning":' not in text
    assert text.rstrip().endswith("data: [DONE]")


def test_deepseek_cache_hits_reach_the_client_in_deepseeks_usage_format(client):
    messages = [{"role": "system", "content": "You are a careful assistant. " * 40}, *HELLO]
    client.chat.completions.create(model="via-deepseek", messages=messages, max_tokens=2)
    completion = client.chat.completions.create(model="via-deepseek", messages=messages, max_tokens=2)
    usage = completion.usage.model_dump()
    assert usage["prompt_cache_hit_tokens"] > 0
    assert usage["prompt_cache_hit_tokens"] % 64 == 0
    assert usage["prompt_cache_hit_tokens"] + usage["prompt_cache_miss_tokens"] == usage["prompt_tokens"]


# No thinking parameter, no header, model "auto": the detector decides from the content alone.
HARD = [{"role": "user", "content": "A bag holds 5 red and 7 blue marbles. I draw 4 without replacement. "
                                    "What is the probability of getting at least 2 red ones? Show the steps."}]
TRANSLATION = [{"role": "user", "content": "Translate into Spanish: The meeting is moved to Thursday at 10."}]


def test_an_unlabelled_hard_prompt_to_auto_reaches_the_thinking_backend_with_its_own_switch_on(client, provider_stack):
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=HARD, max_tokens=12)
    assert (raw.headers["x-switchyard-backend"], raw.headers["x-switchyard-route"]) == ("fireworks", "auto-thinking")
    _only_own_switch(_sent(provider_stack, "fireworks"), {"reasoning_effort": "medium"})  # its default "on" effort
    assert raw.parse().choices[0].message.reasoning_content


def test_a_translation_to_auto_reaches_the_plain_backend_with_thinking_off(client, provider_stack):
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=TRANSLATION, max_tokens=6)
    assert (raw.headers["x-switchyard-backend"], raw.headers["x-switchyard-route"]) == ("local", "default")
    _only_own_switch(_sent(provider_stack, "vllm"), {"chat_template_kwargs": {"thinking": False}})
    assert getattr(raw.parse().choices[0].message, "reasoning_content", None) is None
    assert provider_stack.upstream_requests("fireworks") == []
