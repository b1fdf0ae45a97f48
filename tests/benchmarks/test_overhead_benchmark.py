"""Smoke test of benchmarks/overhead.py with tiny counts: it runs, measures every path, reports numbers.

No timing assertions: this checks the benchmark, not the gateway's speed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.harness.gateway_policy import BENCH_KEY, gateway_policy_yaml
from benchmarks.harness.nginx import find_nginx
from policies.loader import parse_policy_text

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"non-stream c1", "non-stream c32", "non-stream c128", "stream c1", "stream c32"}
REQUESTS = 20

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("overhead") / "overhead.json"
    paths = "direct,gateway,messages,responses,nginx" if find_nginx() else "direct,gateway,messages,responses"
    done = subprocess.run(
        [sys.executable, "benchmarks/overhead.py", "--requests", str(REQUESTS), "--duration-s", "5", "--rounds", "2", "--warmup", "4",
         "--paths", paths, "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {"json": json.loads(out.read_text()), "stdout": done.stdout, "paths": paths.split(",")}


def test_every_path_is_measured_in_every_scenario(report: dict) -> None:
    measured = {(r["path"], r["scenario"]) for r in report["json"]["results"]}
    assert measured == {(p, s) for p in report["paths"] for s in SCENARIOS}
    assert report["json"]["paths"] == report["paths"]


def test_every_request_is_counted_and_none_fails_on_the_zero_fault_upstream(report: dict) -> None:
    for result in report["json"]["results"]:
        assert result["requests"] == REQUESTS, result
        assert result["errors"] == 0, result
        assert result["p50_ms"] > 0 and result["p99_ms"] >= result["p50_ms"]
        assert result["rps"] > 0


def test_proxies_report_cpu_and_rss_and_direct_is_the_baseline(report: dict) -> None:
    for result in report["json"]["results"]:
        if result["path"] == "direct":
            assert result["added_p50_ms"] == 0.0
            assert result["cpu_ms_per_request"] is None
        else:
            assert result["cpu_ms_per_request"] is not None and result["cpu_ms_per_request"] >= 0
            assert result["rss_mib_after"] > 1.0
            assert result["added_p50_ms"] is not None


def test_streaming_scenarios_report_time_to_first_chunk(report: dict) -> None:
    for result in report["json"]["results"]:
        if result["stream"]:
            assert 0 < result["first_chunk_p50_ms"] <= result["p99_ms"]
        else:
            assert result["first_chunk_p50_ms"] is None


def test_the_printed_table_names_the_upstream_and_every_path(report: dict) -> None:
    stdout = report["stdout"]
    assert "upstream: minimal zero-delay upstream" in stdout
    for path in report["paths"]:
        assert f"stream c32     {path}" in stdout


def test_the_front_doors_are_compared_with_chat_completions(report: dict) -> None:
    doors = [r for r in report["json"]["results"] if r["path"] in ("messages", "responses")]
    assert len(doors) == 2 * len(SCENARIOS)
    assert all(r["added_p50_over_chat_ms"] is not None and r["added_cpu_ms_per_request_over_chat"] is not None for r in doors)
    assert all((r["added_first_chunk_p50_over_chat_ms"] is not None) == r["stream"] for r in doors)
    assert "translation over /v1/chat/completions on the same gateway" in report["stdout"]
    assert "  stream c1      responses  p50 " in report["stdout"]


def test_the_translation_benchmark_prints_both_protocols() -> None:
    done = subprocess.run([sys.executable, "benchmarks/translation.py", "--requests", "20"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "anthropic-messages" in done.stdout and "openai-responses" in done.stdout and " us (median of 5 runs of 20)" in done.stdout


def test_a_bad_path_name_is_a_usage_error() -> None:
    argv = [sys.executable, "benchmarks/overhead.py", "--paths", "direct,haproxy"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--paths: unknown haproxy" in done.stderr


def test_more_than_one_gateway_worker_needs_redis() -> None:
    argv = [sys.executable, "benchmarks/overhead.py", "--paths", "direct,gateway", "--workers", "2"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--workers above 1 needs --redis-url" in done.stderr


def test_the_gateway_policy_turns_routing_accounting_and_metrics_on() -> None:
    policy = parse_policy_text(gateway_policy_yaml(9))
    key = policy.keys[0]
    assert key.sha256 == hashlib.sha256(BENCH_KEY.encode()).hexdigest()
    assert key.budgets is not None and key.budgets.daily_usd and key.rpm
    assert policy.routes[0].when is not None and policy.routes[0].when.model == "deepseek-v3.2"
    assert policy.backends["bench-upstream"].cost is not None
