"""Health probes and /metrics scrapes against real emulator processes, feeding the state store."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from gateway.live.endpoints import health_url, metrics_url
from gateway.live.observed import ObservedFigures
from gateway.live.probes import FAILURES_TO_UNHEALTHY, probe_backends, probe_verdict
from gateway.live.scrape import scrape_backends
from gateway.state.memory import MemoryStateStore
from policies.schema import BackendSpec
from policies.state import UNKNOWN_STATE
from tests.conftest import free_port

DEADLINE_S = 10.0  # a backstop; the conditions are polled


def _spec(type_: str, base_url: str, **extra) -> BackendSpec:
    return BackendSpec(type=type_, base_url=base_url, model="m", **extra)


@pytest.mark.parametrize(
    ("spec", "health", "metrics"),
    [
        (_spec("vllm", "http://h:8000/v1"), ("http://h:8000/health", False), "http://h:8000/metrics"),
        (_spec("sglang", "http://h:30000/v1/"), ("http://h:30000/health", False), "http://h:30000/metrics"),
        (_spec("vllm", "https://gw/pool-a/v1"), ("https://gw/pool-a/health", False), "https://gw/pool-a/metrics"),
        (_spec("emulator", "http://h:1/v1", profile="sglang"), ("http://h:1/health", False), "http://h:1/metrics"),
        (_spec("emulator", "http://h:1/v1", profile="novita"), ("http://h:1/health", False), None),
        (_spec("novita", "https://api.novita.ai/openai/v1"), ("https://api.novita.ai/openai/v1/models", True), None),
        (_spec("lmstudio", "http://h:1234/v1"), ("http://h:1234/v1/models", True), None),
        (_spec("litellm", "http://h:4000"), None, None),
    ],
)
def test_probe_and_scrape_addresses_per_backend_type(spec, health, metrics):
    assert (health_url(spec), metrics_url(spec)) == (health, metrics)


@pytest.mark.parametrize(
    ("status", "needs_key", "verdict"),
    [
        (200, False, None), (503, False, "HTTP 503"), (404, False, "HTTP 404"),
        (200, True, None), (404, True, None), (429, True, None),
        (401, True, "HTTP 401: the provider rejected the API key"), (500, True, "HTTP 500"),
    ],
)
def test_probe_verdict_per_status(status, needs_key, verdict):
    assert probe_verdict(status, needs_key) == verdict


async def test_probes_mark_a_backend_unhealthy_after_repeated_failures_and_healthy_on_success(servers):
    emulator = servers.emulator("vllm")
    managed = servers.emulator("novita")
    dead = f"http://127.0.0.1:{free_port()}/v1"
    store = MemoryStateStore()
    figures = ObservedFigures(store)
    backends = [
        ("up", _spec("vllm", emulator.v1)),
        ("managed", _spec("novita", managed.v1, api_key="sk-probe-secret")),
        ("down", _spec("vllm", dead)),
    ]
    async with httpx.AsyncClient() as client:
        for probe in range(1, FAILURES_TO_UNHEALTHY + 1):
            await probe_backends(client, backends, figures, timeout_s=2.0)
            assert store.snapshot().get("down", UNKNOWN_STATE).healthy is (probe < FAILURES_TO_UNHEALTHY)
        snapshot = store.snapshot()
        assert snapshot.get("up", UNKNOWN_STATE).healthy and snapshot.get("managed", UNKNOWN_STATE).healthy
        assert figures.of("down").probe_error == "ConnectError"
        assert figures.of("up").probe_error is None and figures.of("up").probed_at is not None
        await probe_backends(client, [("down", _spec("vllm", emulator.v1))], figures, timeout_s=2.0)
        assert store.snapshot()["down"].healthy


async def test_scrape_reads_the_emulated_vllm_queue_into_the_snapshot(servers):
    emulator = servers.emulator("vllm", "--max-concurrency", "1", "--ttft-ms", "0", "--tpot-ms", "40", name="busy-vllm")
    store = MemoryStateStore()
    figures = ObservedFigures(store)
    backends = [("local", _spec("vllm", emulator.v1))]
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100, "stream": True}

    async def hold(client: httpx.AsyncClient) -> None:
        async with client.stream("POST", f"{emulator.v1}/chat/completions", json=body) as response:
            await response.aread()

    async with httpx.AsyncClient(timeout=30) as client:
        load = [asyncio.create_task(hold(client)) for _ in range(3)]  # one runs, two queue
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            await scrape_backends(client, backends, figures, timeout_s=1.0)
            if store.snapshot()["local"].waiting == 2:
                break
        state = store.snapshot()["local"]
        assert (state.running, state.waiting, state.kv_usage) == (1, 2, 1.0)
        for task in load:
            task.cancel()  # the emulator drops streams whose client left
        await asyncio.gather(*load, return_exceptions=True)


async def test_a_failed_scrape_makes_the_figures_unknown_not_stale(servers):
    emulator = servers.emulator("sglang", name="scraped-sglang")
    store = MemoryStateStore()
    figures = ObservedFigures(store)
    async with httpx.AsyncClient() as client:
        await scrape_backends(client, [("s", _spec("sglang", emulator.v1))], figures, timeout_s=1.0)
        assert (store.snapshot()["s"].waiting, store.snapshot()["s"].kv_usage) == (0, 0.0)
        dead = f"http://127.0.0.1:{free_port()}/v1"
        await scrape_backends(client, [("s", _spec("sglang", dead))], figures, timeout_s=1.0)
    state = store.snapshot()["s"]
    assert (state.waiting, state.running, state.kv_usage) == (None, None, None)
    assert figures.of("s").scrape_error == "ConnectError"
