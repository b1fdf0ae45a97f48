"""The benchmark harness's own pieces: statistics, /proc readers, the load generator against the
minimal upstream over real loopback HTTP, process clean-up, nginx config and the LiteLLM pins."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.version import Version

from benchmarks.harness.litellm_venv import nearest_version
from benchmarks.harness.loadgen import Target, run_load
from benchmarks.harness.nginx import write_nginx_config
from benchmarks.harness.processes import ProcessGroup, free_port
from benchmarks.harness.procstat import descendant_pids, process_cpu_time_s, tree_rss_bytes
from benchmarks.harness.stack import start_minimal_upstream
from benchmarks.harness.stats import percentile, summarize_ms
from benchmarks.harness.upstream import serve

CHAT = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}'
STREAM_CHAT = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, "stream": true}'


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([1.0, 2.0, 3.0, 4.0], 50, 2.5), ([1.0, 2.0, 3.0, 4.0], 0, 1.0), ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
     ([7.0], 99, 7.0), ([0.0, 10.0], 90, 9.0)],
)
def test_percentile_interpolates_between_closest_ranks(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_summary_is_in_milliseconds_and_none_without_samples() -> None:
    summary = summarize_ms([0.001, 0.002, 0.003])
    assert (summary.count, summary.p50_ms, summary.mean_ms) == (3, pytest.approx(2.0), pytest.approx(2.0))
    assert summarize_ms([]) is None


def test_cpu_time_grows_with_work_and_rss_covers_children() -> None:
    before_s = process_cpu_time_s(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert process_cpu_time_s(os.getpid()) > before_s
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in descendant_pids(os.getpid())
        assert tree_rss_bytes(os.getpid()) > tree_rss_bytes(child.pid) > 0
    finally:
        child.kill()
        child.wait()


@pytest.fixture
async def upstream_port() -> int:
    port = free_port()
    server = asyncio.create_task(serve("127.0.0.1", port))
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.01)
    yield port
    server.cancel()


async def test_load_generator_counts_every_non_streaming_request(upstream_port: int) -> None:
    result = await run_load(Target("127.0.0.1", upstream_port), CHAT, stream=False, concurrency=4, requests=50, duration_s=10)
    assert (result.ok, result.errors, len(result.latencies_s), dict(result.status_counts)) == (50, 0, 50, {200: 50})
    assert result.first_chunk_s == []


async def test_load_generator_reads_chunked_streams_to_done(upstream_port: int) -> None:
    result = await run_load(Target("127.0.0.1", upstream_port), STREAM_CHAT, stream=True, concurrency=3, requests=30, duration_s=10)
    assert (result.ok, result.errors, len(result.first_chunk_s)) == (30, 0, 30)
    assert all(0 < first <= total for first, total in zip(sorted(result.first_chunk_s), sorted(result.latencies_s)))


async def test_load_generator_counts_error_statuses_as_errors(upstream_port: int) -> None:
    target = Target("127.0.0.1", upstream_port, path="/v1/nope")
    result = await run_load(target, CHAT, stream=False, concurrency=2, requests=10, duration_s=10)
    assert (result.ok, result.errors, dict(result.error_kinds)) == (0, 10, {"http_404": 10})


async def test_load_generator_counts_refused_connections_as_errors() -> None:
    result = await run_load(Target("127.0.0.1", free_port()), CHAT, stream=False, concurrency=2, requests=6, duration_s=10)
    assert (result.ok, result.errors) == (0, 6)


def test_process_group_stops_its_children_even_on_an_exception(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), ProcessGroup(tmp_path) as group:
        upstream = start_minimal_upstream(group)
        process = upstream.process
        raise RuntimeError("boom")
    assert process.poll() is not None


def test_nginx_config_listens_on_loopback_only_with_keepalive_upstream(tmp_path: Path) -> None:
    config = write_nginx_config(tmp_path, listen_port=18080, upstream_port=18081).read_text()
    assert "listen 127.0.0.1:18080;" in config
    assert "server 127.0.0.1:18081;" in config and "keepalive 256;" in config
    assert 'proxy_set_header Connection "";' in config and "proxy_buffering off;" in config


@pytest.mark.parametrize(
    ("pinned", "available", "expected"),
    [("0.1.83.post1", ["0.1.83", "0.1.82", "0.1.84"], "0.1.83"), ("0.4.114.post1", ["0.4.120", "0.4.115"], "0.4.115"),
     ("1.0", [], None), ("2.0", ["2.0", "1.9"], "2.0")],
)
def test_nearest_litellm_side_package_is_newest_at_or_below_the_pin(pinned: str, available: list[str], expected: str | None) -> None:
    chosen = nearest_version(Version(pinned), [Version(v) for v in available])
    assert (str(chosen) if chosen else None) == expected
