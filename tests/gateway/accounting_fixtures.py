"""Helpers for the accounting tests (ledger, costs, keys, limits, Redis state, metrics, scheduler).

Import what you need: `from accounting_fixtures import make_outcome, redis_client, ...`.
Redis comes from the shared `redis_url` fixture (tests/conftest.py); every test gets its own
key prefix and its keys are deleted afterwards. `RedisServer` runs a private redis-server on a
free port for tests that stop and restart Redis.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from redis.asyncio import Redis

from backends.usage import Usage
from gateway.outcomes import AttemptOutcome
from policies.loader import parse_policy_text
from policies.schema import Policy

READY_TIMEOUT_S = 10.0  # a backstop: readiness is polled
ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

ACCOUNTING_POLICY = """
version: 1
backends:
  local:
    type: vllm
    base_url: http://127.0.0.1:9/v1
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    cost: {gpu_hourly_usd: 3.6, gpus: 8}
  deepseek:
    type: deepseek
    base_url: http://127.0.0.1:9/v1
    model: deepseek-v4-flash  # priced as deepseek-chat was (V3.2, until 2026-04-24), which these tests' figures assume
    family: deepseek-v3.2
    price: {input_usd_per_mtok: 0.28, cached_input_usd_per_mtok: 0.028, output_usd_per_mtok: 0.42}
  fireworks:
    type: fireworks
    base_url: http://127.0.0.1:9/v1
    model: accounts/fireworks/models/deepseek-v3p2
    family: deepseek-v3.2
models:
  deepseek-v3.2: {}
routes:
  - name: default
    use: [local, deepseek, fireworks]
"""


class FakeClock:
    """A clock tests move by hand (`clock.now_s += 60`)."""

    def __init__(self, now_s: float = 1_764_000_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def accounting_policy(extra: str = "") -> Policy:
    return parse_policy_text(ACCOUNTING_POLICY + extra, "accounting.yaml")


def make_outcome(request_id: str = "req_1", *, attempt: int = 1, backend: str = "deepseek", ok: bool = True,
                 prompt: int = 1000, cached: int = 0, completion: int = 100, reasoning: int = 0,
                 key_name: str | None = "team-a", route: str | None = "default", started_at: float = 1_764_000_000.0,
                 latency_ms: float = 500.0, ttft_ms: float | None = 100.0, error_kind: str | None = None,
                 status: int | None = None) -> AttemptOutcome:
    usage = Usage(prompt_tokens=prompt, cached_tokens=cached, completion_tokens=completion,
                  reasoning_tokens=reasoning) if ok else None
    return AttemptOutcome(
        request_id=request_id, attempt=attempt, backend=backend, route=route, upstream_model=f"{backend}-model",
        streamed=False, ok=ok, status=status or (200 if ok else 500), error_kind=None if ok else (error_kind or "server_error"),
        latency_ms=latency_ms, ttft_ms=ttft_ms if ok else None, usage=usage, cost_usd=None, started_at=started_at,
        key_name=key_name,
    )


def unique_prefix() -> str:
    return f"sytest:{uuid.uuid4().hex[:12]}:"


def delete_prefixed_keys(redis_url: str, prefix: str) -> None:
    """Delete every Redis key under `prefix` (a test's clean-up)."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix; its keys are deleted after the test."""
    value = unique_prefix()
    yield value
    delete_prefixed_keys(redis_url, value)


@pytest_asyncio.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


class RedisServer:
    """A private redis-server on a free port that a test may stop and start again."""

    def __init__(self, directory: Path, port: int) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not on PATH")
        self.binary, self.directory, self.port = binary, directory, port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
                if client.ping():
                    client.close()
                    return
            except redis.RedisError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
