"""The HTTP/1.1 fast-path client against scripted upstreams on real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from scripted_upstream import OK_BODY, ScriptedUpstream, always, fixed_answer

from backends.errors import BackendConfigError, UpstreamConnectError, UpstreamServerError, UpstreamTimeoutError
from backends.http11 import Http11Pool

def _pool(url: str, **kwargs) -> Http11Pool:
    options = {"name": "b", "max_connections": 4, "connect_timeout_s": 2.0} | kwargs
    return Http11Pool(url, {"authorization": "Bearer sk-up", "content-type": "application/json"}, **options)


async def test_a_content_length_answer_is_read_whole_and_the_request_carries_path_host_and_headers():
    async with ScriptedUpstream(always(fixed_answer())) as upstream:
        pool = _pool(upstream.base_url)
        response = await pool.request("/chat/completions", b'{"a":1}', timeout_s=5)
        await pool.aclose()
    assert (response.status, response.body, response.headers["content-type"]) == (200, OK_BODY, "application/json")
    sent = upstream.requests[0]
    assert sent.startswith(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"\r\nauthorization: Bearer sk-up\r\n" in sent and b"\r\ncontent-length: 7\r\n" in sent
    assert sent.endswith(b'\r\n\r\n{"a":1}')


async def test_a_chunked_answer_arriving_in_pieces_is_streamed_without_its_framing():
    events = [b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"]

    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        for event in events:
            writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url)
        stream = await pool.stream("/chat/completions", b"{}", read_timeout_s=5)
        chunks = [chunk async for chunk in stream]
        await stream.aclose()
        again = await pool.request("/chat/completions", b"{}", timeout_s=5)
        await pool.aclose()
    assert stream.status == 200 and b"".join(chunks) == b"".join(events)
    assert again.body == b"".join(events) and upstream.connections == 1  # read to its end, then reused


async def test_keep_alive_reuses_one_connection_for_sequential_requests():
    async with ScriptedUpstream(always(fixed_answer())) as upstream:
        pool = _pool(upstream.base_url)
        bodies = [(await pool.request("/c", b"{}", timeout_s=5)).body for _ in range(5)]
        await pool.aclose()
    assert bodies == [OK_BODY] * 5 and upstream.connections == 1 and len(upstream.requests) == 5


@pytest.mark.parametrize("extra", [b"connection: close\r\n", b""], ids=["announced", "kept-alive-then-dropped"])
async def test_a_connection_the_server_closes_after_answering_is_replaced_not_reported(extra):
    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        writer.write(fixed_answer(extra=extra))
        await writer.drain()
        writer.close()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url)
        bodies = [(await pool.request("/c", b"{}", timeout_s=5)).body for _ in range(3)]
        await pool.aclose()
    assert bodies == [OK_BODY] * 3 and upstream.connections == 3


async def test_a_reused_connection_closed_before_any_answer_byte_is_retried_once_on_a_new_one():
    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        if index == 1:
            writer.close()  # the server's idle close racing our second request: nothing was answered
            return
        writer.write(fixed_answer())
        await writer.drain()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url)
        bodies = [(await pool.request("/c", b"{}", timeout_s=5)).body for _ in range(2)]
        await pool.aclose()
    assert bodies == [OK_BODY] * 2 and len(upstream.requests) == 3 and upstream.connections == 2


async def test_a_fresh_connection_closed_before_any_answer_byte_is_a_server_error_not_retried():
    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        writer.close()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url)
        with pytest.raises(UpstreamServerError, match="closed the connection before answering"):
            await pool.request("/c", b"{}", timeout_s=5)
        await pool.aclose()
    assert len(upstream.requests) == 1


async def test_a_body_framed_by_the_connection_closing_is_read_whole():
    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n" + OK_BODY)
        await writer.drain()
        writer.close()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url)
        response = await pool.request("/c", b"{}", timeout_s=5)
        assert pool.open_connections == 0
        await pool.aclose()
    assert response.body == OK_BODY


async def test_a_server_closing_mid_body_is_a_server_error_and_the_connection_is_dropped():
    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        if index == 0:
            writer.write(fixed_answer(b'{"choices": [1, 2, 3]}')[:-8])
            await writer.drain()
            writer.close()
        else:
            writer.write(fixed_answer())
            await writer.drain()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url)
        with pytest.raises(UpstreamServerError, match="closed the connection mid-body"):
            await pool.request("/c", b"{}", timeout_s=5)
        after = await pool.request("/c", b"{}", timeout_s=5)
        await pool.aclose()
    assert after.body == OK_BODY and upstream.connections == 2


async def test_a_stream_cut_mid_body_raises_while_iterating():
    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        writer.transport.abort()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url)
        stream = await pool.stream("/c", b"{}", read_timeout_s=5)
        received: list[bytes] = []
        with pytest.raises(UpstreamServerError):
            async for chunk in stream:
                received.append(chunk)
        await stream.aclose()
        await pool.aclose()
    assert received == [b"hello"]


async def test_connect_refused_is_a_connect_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        pool = _pool(f"http://127.0.0.1:{port}/v1")
        with pytest.raises(UpstreamConnectError, match="backend b is unreachable"):
            await pool.request("/c", b"{}", timeout_s=5)
    assert pool.open_connections == 0


async def test_an_upstream_that_never_answers_times_out_waiting_for_its_first_byte():
    silent = asyncio.Event()

    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        await silent.wait()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url)
        with pytest.raises(UpstreamTimeoutError, match="first byte"):
            await pool.request("/c", b"{}", timeout_s=0.2)
        assert pool.open_connections == 0  # a connection in an unknown state is closed, not reused
        silent.set()
        await pool.aclose()


async def test_the_pool_never_opens_more_than_its_limit_and_serves_everyone():
    gate = asyncio.Event()

    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        await gate.wait()
        writer.write(fixed_answer())
        await writer.drain()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url, max_connections=2)
        calls = [asyncio.create_task(pool.request("/c", b"{}", timeout_s=5)) for _ in range(6)]
        while len(upstream.requests) < 2:
            await asyncio.sleep(0.01)
        assert pool.open_connections == 2
        gate.set()
        bodies = [r.body for r in await asyncio.gather(*calls)]
        await pool.aclose()
    assert bodies == [OK_BODY] * 6 and upstream.most_open == 2 and upstream.connections == 2


async def test_a_stream_closed_before_its_end_drops_its_connection():
    async def reply(writer: asyncio.StreamWriter, index: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        if index > 0:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    async with ScriptedUpstream(reply) as upstream:
        pool = _pool(upstream.base_url)
        stream = await pool.stream("/c", b"{}", read_timeout_s=5)
        first: AsyncIterator[bytes] = aiter(stream)
        assert await anext(first) == b"hello"
        await stream.aclose()  # e.g. the client went away
        whole = await pool.stream("/c", b"{}", read_timeout_s=5)
        assert await whole.read() == b"hello"
        await whole.aclose()
        await pool.aclose()
    assert upstream.connections == 2


async def test_redirects_are_returned_not_followed():
    async with ScriptedUpstream(always(b"HTTP/1.1 302 Found\r\nlocation: http://elsewhere/\r\ncontent-length: 0\r\n\r\n")) as upstream:
        pool = _pool(upstream.base_url)
        response = await pool.request("/c", b"{}", timeout_s=5)
        await pool.aclose()
    assert (response.status, response.headers["location"], len(upstream.requests)) == (302, "http://elsewhere/", 1)


@pytest.mark.parametrize(
    ("url", "headers", "problem"),
    [
        ("https://api.example.com/v1", {}, "http:// only"),
        ("http://:8000/v1", {}, "no host"),
        ("http://127.0.0.1:8000/v1", {"x-key": "a\r\nx-evil: 1"}, "line break"),
    ],
)
def test_unusable_settings_are_config_errors(url, headers, problem):
    with pytest.raises(BackendConfigError, match=problem):
        Http11Pool(url, headers, name="b", max_connections=1, connect_timeout_s=1)
