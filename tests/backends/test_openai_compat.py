"""The OpenAI-compatible client against scripted upstream answers (httpx's transport seam)."""

from __future__ import annotations

import httpx
import orjson
import pytest
from scripted_upstream import ScriptedUpstream, always

from backends.base import BackendTimeouts
from backends.errors import (
    UpstreamAuthError,
    UpstreamClientError,
    UpstreamConnectError,
    UpstreamMidstreamError,
    UpstreamRateLimitedError,
    UpstreamServerError,
)
from backends.http11 import Http11Pool
from backends.httpx_upstream import HttpxUpstream
from backends.registry import create_backend
from backends.usage import Usage


def _chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> bytes:
    obj: dict = {"id": "c1", "object": "chat.completion.chunk", "model": "m"}
    obj["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else []
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + orjson.dumps(obj) + b"\n\n"


ROLE = _chunk({"role": "assistant", "content": ""})
USAGE = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
DONE = b"data: [DONE]\n\n"


def _backend(handler, type_name: str = "vllm"):
    return create_backend(
        "b", type_name, model="m", base_url="http://upstream.test/v1", api_key="sk-up",
        timeouts=BackendTimeouts(connect_s=1, first_token_s=1, total_s=5), transport=httpx.MockTransport(handler),
    )


def _sse(*parts: bytes, status: int = 200):
    """An upstream that sends each part as its own network read."""

    async def reads():
        for part in parts:
            yield part

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=reads(), headers={"content-type": "text/event-stream"})

    return handler


async def _collect(stream) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def test_stream_renames_vllm_reasoning_and_ends_with_done():
    backend = _backend(_sse(ROLE, _chunk({"reasoning": "hmm"}), _chunk({"content": "hi"}), _chunk(finish="stop"), _chunk(usage=USAGE, choices=False), DONE))
    stream = backend.stream({"model": "m"}, "/chat/completions", client_wants_usage=False)
    text = await _collect(stream)
    assert b'"reasoning_content":"hmm"' in text and b'"reasoning":' not in text
    assert text.endswith(DONE) and text.count(DONE) == 1
    assert b'"usage"' not in text  # the client did not ask for it
    assert stream.usage == Usage(prompt_tokens=7, completion_tokens=2)


async def test_stream_keeps_the_usage_chunk_when_the_client_asked():
    backend = _backend(_sse(ROLE, _chunk({"content": "hi"}), _chunk(finish="stop"), _chunk(usage=USAGE, choices=False), DONE))
    text = await _collect(backend.stream({}, "/chat/completions", client_wants_usage=True))
    events = text.split(b"\n\n")
    assert b'"usage":{"prompt_tokens":7' in events[-3]  # last event before [DONE]


async def test_usage_riding_on_the_finish_chunk_is_removed_unless_asked():
    backend = _backend(_sse(ROLE, _chunk({"content": "hi"}), _chunk(finish="stop", usage=USAGE), DONE), "deepseek")
    stream = backend.stream({}, "/chat/completions", client_wants_usage=False)
    text = await _collect(stream)
    assert b'"usage"' not in text and b'"finish_reason":"stop"' in text
    assert stream.usage.prompt_tokens == 7


async def test_stream_holds_events_back_until_the_first_content():
    backend = _backend(_sse(ROLE, _chunk({"content": "hi"}), _chunk(finish="stop"), DONE))
    stream = backend.stream({}, "/chat/completions", client_wants_usage=False)
    first = await stream.__anext__()
    assert first.count(b"data: ") == 2 and b'"content":"hi"' in first  # role chunk + first content together
    await stream.aclose()


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        ((ROLE, b"data: {not json\n\n"), UpstreamServerError),
        ((b'data: {"error": {"message": "overloaded"}}\n\n',), UpstreamServerError),
        ((ROLE,), UpstreamServerError),  # closed before finishing
    ],
)
async def test_failure_before_content_is_retryable(parts, error):
    stream = _backend(_sse(*parts)).stream({}, "/chat/completions", client_wants_usage=False)
    with pytest.raises(error) as caught:
        await stream.__anext__()
    assert caught.value.retryable


async def test_content_read_together_with_a_failure_is_relayed_before_the_error():
    stream = _backend(_sse(ROLE + _chunk({"content": "hi"}) + b"data: {broken\n\n")).stream({}, "/c", client_wants_usage=False)
    assert b'"content":"hi"' in await stream.__anext__()
    with pytest.raises(UpstreamMidstreamError):
        await stream.__anext__()


async def test_failure_after_content_is_midstream_and_not_retryable():
    stream = _backend(_sse(ROLE, _chunk({"content": "hi"}), b"data: {broken\n\n")).stream({}, "/c", client_wants_usage=False)
    await stream.__anext__()
    with pytest.raises(UpstreamMidstreamError) as caught:
        await stream.__anext__()
    assert not caught.value.retryable and caught.value.kind == "midstream"


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [(429, UpstreamRateLimitedError, "rate_limited"), (503, UpstreamServerError, "server_error"), (400, UpstreamClientError, "client_error")],
)
async def test_status_errors_are_classified(status, error, kind):
    def handler(request):
        return httpx.Response(status, json={"error": {"message": "nope"}}, headers={"retry-after": "3"})

    backend = _backend(handler)
    with pytest.raises(error) as caught:
        await backend.complete({}, "/chat/completions")
    assert caught.value.kind == kind and "nope" in caught.value.message
    if status == 429:
        assert caught.value.retry_after_s == 3.0
    if status == 400:
        assert caught.value.status == 400 and not caught.value.retryable


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_an_upstream_refusing_the_gateways_key_is_a_502_that_falls_back_and_never_relays_its_text(status, stream):
    def handler(request):
        return httpx.Response(status, json={"error": {"message": "Incorrect API key provided: sk-up. Find yours at ..."}})

    backend = _backend(handler)
    with pytest.raises(UpstreamAuthError) as caught:
        if stream:
            await backend.stream({}, "/chat/completions", client_wants_usage=False).__anext__()
        else:
            await backend.complete({}, "/chat/completions")
    error = caught.value
    assert (error.status, error.kind, error.code, error.retryable, error.upstream_status) == (
        502, "server_error", "upstream_auth_failed", True, status)
    assert error.message == f"backend b rejected the gateway's credential for it (upstream {status}); check its api_key"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_an_upstream_redirect_is_a_server_error_and_not_followed(status):
    asked: list[str] = []

    def handler(request):
        asked.append(str(request.url))
        return httpx.Response(status, headers={"location": "http://elsewhere.test/v1/chat/completions"})

    with pytest.raises(UpstreamServerError) as caught:
        await _backend(handler).complete({}, "/chat/completions")
    assert caught.value.kind == "server_error" and caught.value.retryable and caught.value.status == 502
    assert asked == ["http://upstream.test/v1/chat/completions"]


async def test_the_backends_own_key_is_redacted_from_any_upstream_text_it_passes_on():
    def handler(request):
        return httpx.Response(400, json={"error": {"message": "bad request sent with key sk-up"}})

    with pytest.raises(UpstreamClientError) as caught:
        await _backend(handler).complete({}, "/chat/completions")
    assert caught.value.message == "backend b answered 400: bad request sent with key [redacted]"
    error_event = b"data: " + orjson.dumps({"error": {"message": "quota for sk-up exceeded"}}) + b"\n\n"
    stream = _backend(_sse(ROLE, _chunk({"content": "hi"}), error_event)).stream({}, "/c", client_wants_usage=False)
    await stream.__anext__()
    with pytest.raises(UpstreamMidstreamError) as caught_midstream:
        await stream.__anext__()
    assert "sk-up" not in caught_midstream.value.message and "[redacted]" in caught_midstream.value.message


async def test_connect_failure_is_a_connect_error():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UpstreamConnectError):
        await _backend(handler).complete({}, "/chat/completions")


async def test_complete_sends_auth_and_renames_reasoning():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers["authorization"]
        seen["url"] = str(request.url)
        message = {"role": "assistant", "content": "x", "reasoning": "because"}
        return httpx.Response(200, json={"choices": [{"index": 0, "message": message}], "usage": USAGE})

    response = await _backend(handler).complete({"model": "m"}, "/chat/completions")
    body = orjson.loads(response.content)
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "x", "reasoning_content": "because"}
    assert seen == {"auth": "Bearer sk-up", "url": "http://upstream.test/v1/chat/completions"}
    assert response.usage.completion_tokens == 2


async def test_complete_passes_untouched_bytes_when_nothing_needs_rewriting():
    raw = b'{"choices": [{"index": 0, "message": {"content": "x"}}],   "usage": null}'
    response = await _backend(lambda request: httpx.Response(200, content=raw)).complete({}, "/chat/completions")
    assert response.content == raw


@pytest.mark.parametrize("content", [b"{not json", b'{"error": {"message": "busy"}}'])
async def test_complete_rejects_malformed_and_error_bodies(content):
    with pytest.raises(UpstreamServerError):
        await _backend(lambda request: httpx.Response(200, content=content)).complete({}, "/chat/completions")


async def test_a_plain_http_backend_maps_a_429_from_a_real_socket_with_its_retry_after():
    error = b'{"error": {"message": "slow down"}}'
    answer = b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\ncontent-length: " + str(len(error)).encode() + b"\r\n\r\n" + error
    async with ScriptedUpstream(always(answer)) as upstream:
        backend = create_backend("b", "vllm", model="m", base_url=upstream.base_url, timeouts=BackendTimeouts(connect_s=1, first_token_s=1, total_s=5))
        assert isinstance(backend._upstream, Http11Pool)  # http:// takes the fast path
        with pytest.raises(UpstreamRateLimitedError) as caught:
            await backend.complete({"messages": []}, "/chat/completions")
        await backend.aclose()
    assert caught.value.retry_after_s == 3.0 and caught.value.message == "backend b answered 429: slow down"


async def test_a_plain_http_backend_streams_normalised_events_from_a_real_socket():
    events = ROLE + _chunk({"reasoning": "hmm"}) + _chunk({"content": "hi"}) + _chunk(finish="stop") + DONE
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    answer += f"{len(events):x}\r\n".encode() + events + b"\r\n0\r\n\r\n"
    async with ScriptedUpstream(always(answer)) as upstream:
        backend = create_backend("b", "vllm", model="m", base_url=upstream.base_url, api_key="sk-up")
        text = await _collect(backend.stream({"messages": []}, "/chat/completions", client_wants_usage=False))
        await backend.aclose()
    assert b'"reasoning_content":"hmm"' in text and text.endswith(DONE)
    assert b"\r\nauthorization: Bearer sk-up\r\n" in upstream.requests[0]


def test_https_backends_and_injected_transports_use_httpx():
    managed = create_backend("n", "novita", model="m", api_key="k")
    injected = create_backend("v", "vllm", model="m", base_url="http://upstream.test/v1", transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert isinstance(managed._upstream, HttpxUpstream) and isinstance(injected._upstream, HttpxUpstream)
