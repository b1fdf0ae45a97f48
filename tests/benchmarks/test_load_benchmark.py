"""Smoke test of benchmarks/load.py with tiny counts: it runs through faulty emulators and reports numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 120
CONCURRENCY = 12

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("load") / "load.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/load.py", "--requests", str(REQUESTS), "--concurrency", str(CONCURRENCY), "--duration-s", "30",
         "--fail-rate", "0.05", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {"json": json.loads(out.read_text()), "stdout": done.stdout}


def test_every_request_is_served_and_counted(report: dict) -> None:
    data = report["json"]
    assert data["served"] == REQUESTS
    assert sum(part["requests"] for part in data["traffic"]) == REQUESTS
    assert data["client_visible_errors"] == sum(part["errors"] for part in data["traffic"])


def test_half_of_the_clients_stream(report: dict) -> None:
    streaming, plain = report["json"]["traffic"]
    assert (streaming["stream"], plain["stream"]) == (True, False)
    assert streaming["clients"] == plain["clients"] == CONCURRENCY // 2
    assert streaming["requests"] == plain["requests"] == REQUESTS // 2


def test_faulty_emulators_back_the_gateway(report: dict) -> None:
    assert report["json"]["emulators"] == ["vllm (500 at 0.05)", "sglang (429 at 0.05)", "novita (reset at 0.05)"]


def test_latency_and_gateway_memory_are_reported(report: dict) -> None:
    data = report["json"]
    assert 0 < data["latency"]["p50_ms"] <= data["latency"]["p99_ms"]
    assert data["gateway_rss_mib_before"] > 1.0 and data["gateway_rss_mib_after"] > 1.0
    assert "gateway RSS:" in report["stdout"] and "requests served: " in report["stdout"]


def test_the_ledger_check_says_what_it_found(report: dict) -> None:
    ledger = report["json"]["ledger"]
    assert f"ledger: {ledger['summary']}" in report["stdout"]
    if not ledger["available"]:
        assert ledger["summary"].startswith("not available")
