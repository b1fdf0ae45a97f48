"""Each adapter builds its own upstream body: model id, usage request, its own thinking switch."""

from __future__ import annotations

import copy

import pytest

from backends.registry import create_backend

CLIENT_BODY = {
    "model": "auto",
    "messages": [{"role": "user", "content": "hi"}],
    "reasoning_effort": "high",
    "chat_template_kwargs": {"thinking": True, "custom": 1},
    "tools": [{"type": "function", "function": {"name": "f"}}],
    "x_unknown": {"kept": True},
}


def _backend(type_name: str, model: str = "upstream-model"):
    return create_backend("b", type_name, model=model, base_url="http://127.0.0.1:9/v1")


@pytest.mark.parametrize(
    ("type_name", "thinking", "expected"),
    [
        ("vllm", True, {"chat_template_kwargs": {"custom": 1, "thinking": True}}),
        ("vllm", False, {"chat_template_kwargs": {"custom": 1, "thinking": False}}),
        ("sglang", True, {"chat_template_kwargs": {"custom": 1, "thinking": True}}),
        ("novita", True, {"enable_thinking": True, "chat_template_kwargs": {"custom": 1}}),
        ("novita", False, {"enable_thinking": False, "chat_template_kwargs": {"custom": 1}}),
        ("fireworks", True, {"reasoning_effort": "high", "chat_template_kwargs": {"custom": 1}}),
        ("fireworks", False, {"reasoning_effort": "none", "chat_template_kwargs": {"custom": 1}}),
        ("deepseek", True, {"thinking": {"type": "enabled"}, "chat_template_kwargs": {"custom": 1}}),
        ("deepseek", False, {"thinking": {"type": "disabled"}, "chat_template_kwargs": {"custom": 1}}),
        ("openai", True, {"reasoning_effort": "high", "chat_template_kwargs": {"custom": 1}}),
        ("lmstudio", True, {"chat_template_kwargs": {"custom": 1}}),
    ],
)
def test_thinking_is_switched_with_the_providers_own_parameter_only(type_name, thinking, expected):
    body = _backend(type_name).build_body(CLIENT_BODY, thinking=thinking, stream=False)
    switches = {k: body[k] for k in ("chat_template_kwargs", "enable_thinking", "reasoning_effort", "thinking") if k in body}
    assert switches == expected


def test_build_body_never_mutates_the_client_body():
    original = copy.deepcopy(CLIENT_BODY)
    for type_name in ("vllm", "novita", "fireworks", "deepseek"):
        for thinking in (True, False, None):
            _backend(type_name).build_body(CLIENT_BODY, thinking=thinking, stream=True)
    assert CLIENT_BODY == original


def test_model_and_unknown_parameters():
    body = _backend("vllm").build_body(CLIENT_BODY, thinking=None, stream=False)
    assert body["model"] == "upstream-model"
    assert body["x_unknown"] == {"kept": True} and body["tools"] == CLIENT_BODY["tools"]
    assert body["chat_template_kwargs"] == {"thinking": True, "custom": 1}  # no decision: untouched


def test_streaming_always_asks_upstream_for_usage_keeping_other_options():
    client = {**CLIENT_BODY, "stream": True, "stream_options": {"include_usage": False, "other": 1}}
    body = _backend("vllm").build_body(client, thinking=None, stream=True)
    assert body["stream_options"] == {"include_usage": True, "other": 1}
    assert client["stream_options"] == {"include_usage": False, "other": 1}


def test_novita_gets_thinking_off_when_the_request_expressed_no_need():
    body = _backend("novita").build_body({"model": "m", "messages": []}, thinking=None, stream=False)
    assert body["enable_thinking"] is False


def test_deepseek_v4_thinks_by_default_so_a_request_without_a_need_gets_thinking_disabled():
    body = _backend("deepseek", model="deepseek-v4-flash").build_body({"messages": []}, thinking=None, stream=False)
    assert body["model"] == "deepseek-v4-flash" and body["thinking"] == {"type": "disabled"}
    on = _backend("deepseek", model="deepseek-v4-flash").build_body({"messages": []}, thinking=True, stream=False)
    assert on["thinking"] == {"type": "enabled"}
