"""Bad input the end-to-end error tests do not cover: OpenAI-shaped 4xx, never a 5xx or a traceback.

The rule for `n`: the gateway accepts 1..128 (OpenAI's bound); a backend that cannot serve the
asked `n` rejects it itself, and that 400 reaches the client as a 400 (`client_error`), with no
fallback and no circuit-breaker failure, whether streamed or not.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.test_request_errors import _error  # OpenAI's error shape, asserted
from tests.hardening.conftest import HELLO, MAX_MESSAGES, SECRETS, HardenedStack

pytestmark = pytest.mark.slow


def _post(stack: HardenedStack, path: str = "/chat/completions", **kwargs) -> httpx.Response:
    headers = {**stack.client_headers, "content-type": "application/json"}
    return httpx.post(f"{stack.gateway.v1}{path}", headers=headers, timeout=10, **kwargs)


def test_more_messages_than_the_setting_allows_is_a_400(stack):
    messages = [{"role": "user", "content": "hi"}] * (MAX_MESSAGES + 1)
    error = _error(_post(stack, json={"model": "auto", "messages": messages}), 400)
    assert error["param"] == "messages" and f"the limit is {MAX_MESSAGES}" in error["message"]
    assert stack.upstream_requests("primary") == []


def test_max_tokens_beyond_every_context_window_is_a_400_not_an_outage(stack):
    error = _error(_post(stack, json={"model": "auto", "messages": HELLO, "max_tokens": 2**40}), 400)
    assert error["code"] == "context_length_exceeded" and error["param"] == "max_tokens"
    assert "163840" in error["message"]


def test_a_prompt_beyond_every_context_window_is_a_400_naming_messages(stack):
    long = [{"role": "user", "content": "word " * 200_000}]  # about 1 MiB: under the body limit, over any window
    error = _error(_post(stack, json={"model": "auto", "messages": long}), 400)
    assert error["code"] == "context_length_exceeded" and error["param"] == "messages"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "auto", "messages": HELLO, "max_tokens": 1.5}, "max_tokens"),
        ({"model": "auto", "messages": HELLO, "max_tokens": -3}, "max_tokens"),
        ({"model": "auto", "messages": HELLO, "max_completion_tokens": True}, "max_completion_tokens"),
        ({"model": "auto", "messages": HELLO, "n": 0}, "n"),
        ({"model": "auto", "messages": HELLO, "n": 129}, "n"),
        ({"model": 7, "messages": HELLO}, "model"),
        ({"model": "auto", "messages": "hello"}, "messages"),
        ({"model": "auto", "messages": ["hello"]}, "messages[0]"),
        ({"model": "auto", "messages": HELLO, "tools": {"name": "x"}}, "tools"),
        ({"model": "auto", "messages": HELLO, "stream": True, "stream_options": "usage"}, "stream_options"),
    ],
)
def test_wrong_types_and_ranges_are_a_400_naming_the_parameter(stack, body, param):
    assert _error(_post(stack, json=body), 400)["param"] == param


@pytest.mark.parametrize("body", [{"model": "auto"}, {"model": "auto", "prompt": ""}, {"model": "auto", "prompt": 5}])
def test_legacy_completions_without_a_usable_prompt_is_a_400(stack, body):
    assert _error(_post(stack, "/completions", json=body), 400)["param"] == "prompt"


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02",
        b'{"model": "auto", "messages": [{"role": "user", "content": "\\ud800"}]}',  # a lone surrogate
        b'{"model": "auto", "messages": [{"role": "user", "content": "caf\xc3"}]}',  # truncated UTF-8
        b"[" * 5000 + b"]" * 5000,  # nested deeper than any parser should follow
        b'{"model": "auto", "messages": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}]} trailing',
        b"\xef\xbb\xbf{}",  # a UTF-8 byte-order mark
    ],
)
def test_unparseable_or_pathological_json_is_a_400(stack, content):
    error = _error(_post(stack, content=content), 400)
    assert error["type"] == "invalid_request_error"


def test_a_body_over_the_limit_without_content_length_is_a_413(stack):
    def chunks():
        yield b'{"model": "auto", "messages": [{"role": "user", "content": "'
        for _ in range(9):
            yield b"x" * (1024 * 1024)
        yield b'"}]}'

    error = _error(_post(stack, content=chunks()), 413)  # chunked: the limit is counted, not declared
    assert error["code"] == "request_too_large"


@pytest.mark.parametrize("stream", [False, True])
def test_an_n_the_backend_cannot_serve_is_its_400_without_fallback(stack, stream):
    client = openai.OpenAI(base_url=stack.gateway.v1, api_key=SECRETS[1], max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="auto", messages=HELLO, n=20, stream=stream)  # the emulated vLLM serves n <= 16
    assert caught.value.body["code"] == "client_error" and "n must be" in caught.value.body["message"]
    assert len(stack.upstream_requests("primary")) == 1
    assert stack.upstream_requests("secondary") == []


def test_n_within_the_backend_bound_streams_every_choice(stack):
    client = openai.OpenAI(base_url=stack.gateway.v1, api_key=SECRETS[1], max_retries=0)
    indexes = {c.index for chunk in client.chat.completions.create(model="auto", messages=HELLO, n=3, max_tokens=2, stream=True)
               for c in chunk.choices}
    assert indexes == {0, 1, 2}
