"""Slow, huge, disconnecting and scheming clients: bounded, answered, recorded, and unable to
steer the gateway to any URL that is not a configured backend."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pytest

from tests.conftest import ServerLauncher, free_port, wait_for
from tests.e2e.test_fallback import _running  # the emulator's running-requests gauge
from tests.hardening.conftest import CLIENT_KEY, HELLO, READ_TIMEOUT_S, gateway_env, start_gateway

pytestmark = pytest.mark.slow

SOCKET_TIMEOUT_S = READ_TIMEOUT_S * 5  # a backstop: the gateway answers at READ_TIMEOUT_S


def _exchange(port: int, data: bytes) -> bytes:
    """Send `data` (maybe an incomplete request), then read until the gateway closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it stopped reading early; its answer is still there to read
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def _status_and_error(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(body)["error"]


@pytest.mark.parametrize(
    "partial",
    [
        b"",  # connected, then silent
        b"POST /v1/chat/compl",  # the head, a byte at a time
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + CLIENT_KEY.encode()
        + b"\r\nContent-Length: 200\r\n\r\n{\"model\": ",  # the body, slowly
    ],
    ids=["silent", "slow-head", "slow-body"],
)
def test_a_request_that_does_not_arrive_in_time_gets_a_408_and_the_connection_closes(stack, partial):
    status, error = _status_and_error(_exchange(stack.gateway.port, partial))
    assert (status, error["code"]) == (408, "request_timeout")
    assert stack.upstream_requests("primary") == []
    assert "Traceback" not in stack.gateway.log()


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",  # one huge header
        b"GET /healthz HTTP/1.1\r\nHost: gw\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 20) for i in range(5000)) + b"\r\n",
        b"GET /healthz?" + b"q" * 100_000 + b" HTTP/1.1\r\nHost: gw\r\n\r\n",  # a huge URL
        b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Endless: " + b"a" * 3_000_000,  # never finishes: cut off early
    ],
    ids=["one-huge-header", "many-headers", "huge-url", "endless-header"],
)
def test_a_head_over_the_limit_gets_a_431_on_any_path(stack, head):
    status, error = _status_and_error(_exchange(stack.gateway.port, head))
    assert (status, error["code"]) == (431, "headers_too_large")
    assert httpx.get(f"{stack.gateway.url}/healthz").status_code == 200  # and the gateway serves on


def test_a_client_that_disconnects_mid_stream_cancels_the_upstream_and_is_still_recorded(stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="slow", slow_ms=50)  # 200 tokens: 10 s if not cancelled
    body = {"model": "auto", "messages": HELLO, "max_tokens": 200, "stream": True}
    with httpx.stream("POST", f"{stack.gateway.v1}/chat/completions", json=body, headers=stack.client_headers) as response:
        request_id = response.headers["x-switchyard-request-id"]
        chunks = response.iter_bytes()  # kept: a dropped iterator would close the response at once
        assert next(chunks).startswith(b"data: ")
        assert _running(stack, "primary") == 1.0
    wait_for(lambda: _running(stack, "primary") == 0.0, "the upstream stream to be cancelled", timeout_s=5)
    [record] = stack.wait_for_usage(request_id, 1)
    assert (record["backend"], record["ok"], record["error_kind"]) == ("primary", False, "client_disconnected")
    assert record["streamed"] is True and record["key_name"] == "hardening-client"


def test_a_client_that_leaves_a_non_streamed_request_cancels_the_upstream_and_is_still_recorded(stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="slow", slow_ms=50)  # 200 tokens: 10 s if not cancelled
    before = {r["request_id"] for r in httpx.get(f"{stack.gateway.url}/admin/usage", headers=stack.admin_headers,
                                                 params={"limit": 10000}).json()["data"]}
    body = orjson.dumps({"model": "auto", "messages": HELLO, "max_tokens": 200})
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + CLIENT_KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
    with socket.create_connection(("127.0.0.1", stack.gateway.port), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(head + body)
        wait_for(lambda: _running(stack, "primary") == 1.0, "the upstream call to start", timeout_s=5)

    def new_records() -> list[dict]:
        records = httpx.get(f"{stack.gateway.url}/admin/usage", headers=stack.admin_headers,
                            params={"limit": 10000}).json()["data"]
        return [r for r in records if r["request_id"] not in before]

    # The client is gone with no answer read. Uncancelled, the upstream would answer after 10 s and
    # the record would say ok; the gateway cancels the call at once and records it as abandoned.
    # (The emulator, like any uvicorn app, finishes a non-streamed answer nobody reads, so its
    # running gauge is no witness here; the gateway's own record and its latency are.)
    [record] = wait_for(new_records, "the abandoned request's ledger record", timeout_s=5)
    assert (record["backend"], record["ok"], record["error_kind"]) == ("primary", False, "client_disconnected")
    assert record["streamed"] is False and record["key_name"] == "hardening-client"
    assert record["latency_ms"] < 5_000


def test_a_client_that_disconnects_mid_stream_is_billed_for_what_it_received(stack):
    stack.set_faults("primary", fail_rate=1.0, fail_mode="slow", slow_ms=50)
    body = {"model": "auto", "messages": HELLO, "max_tokens": 200, "stream": True}
    with httpx.stream("POST", f"{stack.gateway.v1}/chat/completions", json=body, headers=stack.client_headers) as response:
        request_id = response.headers["x-switchyard-request-id"]
        lines = response.iter_lines()  # kept until the block ends, then the client leaves
        assert next(line for line in lines if '"content":"' in line and '"content":""' not in line)
    [record] = stack.wait_for_usage(request_id, 1)
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] >= 1
    assert record["usage_estimated"] is True


class _Trap:
    """A loopback HTTP server that answers every request with `status` (and `location`), and counts them."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.paths: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                trap.paths.append(self.path)
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                if location:
                    self.send_header("location", location)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def trap() -> Iterator[_Trap]:
    server = _Trap()
    yield server
    server.close()


def test_no_request_field_or_header_can_point_the_gateway_at_another_url(stack, trap):
    steering = {
        "base_url": f"{trap.url}/v1", "api_base": f"{trap.url}/v1", "url": f"{trap.url}/v1/chat/completions",
        "extra_body": {"api_base": f"{trap.url}/v1"}, "metadata": {"base_url": f"{trap.url}/v1"},
    }
    headers = {**stack.client_headers, "x-forwarded-host": trap.url[7:], "x-base-url": trap.url, "forwarded": f"host={trap.url[7:]}"}
    for stream in (False, True):
        body = {"model": "auto", "messages": HELLO, "max_tokens": 2, "stream": stream, **steering}
        response = httpx.post(f"{stack.gateway.v1}/chat/completions", json=body, headers=headers)
        assert response.status_code == 200 and response.headers["x-switchyard-backend"] == "primary"
    assert trap.paths == []
    assert len(stack.upstream_requests("primary")) == 2


@pytest.fixture(scope="module")
def redirecting_stack(servers: ServerLauncher, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, _Trap, _Trap]]:
    """A gateway whose primary answers every request with a 302 to `target` (another local port)."""
    target = _Trap()
    redirector = _Trap(status=302, location=f"{target.url}/v1/chat/completions")
    secondary = servers.emulator("novita", name="redirect-secondary")
    policy = f"""
version: 1
backends:
  primary: {{type: vllm, base_url: "{redirector.url}/v1", model: m, family: deepseek-v3.2}}
  secondary: {{type: novita, base_url: "{secondary.v1}", api_key: "${{HARDENING_PROVIDER_KEY}}", model: m, family: deepseek-v3.2}}
models: {{auto: {{}}}}
routes: [{{name: default, use: [primary, secondary], prefer: order}}]
fallback: {{on: [connect_error, timeout, rate_limited, server_error], circuit_breaker: {{enabled: false}}}}
"""
    gateway = start_gateway(servers, policy, gateway_env(tmp_path_factory.mktemp("redirect")), log_level="warning")
    yield gateway.v1, redirector, target
    redirector.close()
    target.close()


@pytest.mark.parametrize("stream", [False, True])
def test_a_backend_redirect_is_never_followed(redirecting_stack, stream):
    url, redirector, target = redirecting_stack

    def completions_asked() -> int:  # health probes and metric scrapes reach the redirector too, at their own pace
        return redirector.paths.count("/v1/chat/completions")

    before = completions_asked()
    body = {"model": "auto", "messages": HELLO, "max_tokens": 2, "stream": stream}
    response = httpx.post(f"{url}/chat/completions", json=body)
    assert completions_asked() == before + 1  # the configured backend was asked...
    assert target.paths == []  # ...and where it pointed was not
    assert response.status_code == 200 and response.headers["x-switchyard-backend"] == "secondary"  # fell back instead


def test_a_backend_redirect_counts_as_a_backend_failure_and_falls_back(redirecting_stack):
    url, _, _ = redirecting_stack
    response = httpx.post(f"{url}/chat/completions", json={"model": "auto", "messages": HELLO, "max_tokens": 2})
    assert response.status_code == 200 and response.headers["x-switchyard-backend"] == "secondary"
