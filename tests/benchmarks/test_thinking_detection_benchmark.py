"""Smoke test of benchmarks/thinking_detection.py: it runs, reports every method, slice and
threshold, and the detector beats every baseline. No timing assertions: the overhead figures are
only checked to be there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("thinking") / "thinking.json"
    done = subprocess.run([sys.executable, "benchmarks/thinking_detection.py", "--repeat", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"json": json.loads(out.read_text()), "stdout": done.stdout}


def test_the_detector_meets_its_targets_and_beats_every_baseline(report):
    rows = report["json"]["quality"]
    detector, baselines = rows[0], rows[1:]
    assert detector["method"].startswith("detector") and detector["auroc"] >= 0.92 and detector["accuracy"] >= 0.88
    assert [b["method"].split(" (")[0].split(" >=")[0] for b in baselines] == [
        "never", "always", "prompt length", "keywords: LiteLLM reasoning list", "keywords: English task words"]
    for baseline in baselines:
        assert detector["auroc"] >= baseline["auroc"] + 0.1 and detector["accuracy"] >= baseline["accuracy"] + 0.1, baseline


def test_every_table_is_printed_with_figures(report):
    data, text = report["json"], report["stdout"]
    assert [row["threshold"] for row in data["thresholds"]] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert all(0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1 for row in data["thresholds"])
    assert all(row["cases"] > 0 for row in data["slices"])
    assert {row["prompts"] for row in data["overhead"]} == {
        "test prompts (each)", "200K-char prose prompt", "200K-char code prompt"}
    assert all(row["cpu_p99_ms"] >= row["cpu_p50_ms"] > 0 and row["wall_p50_ms"] > 0 for row in data["overhead"])
    for title in ("needs thinking? on the test split", "precision / recall by thinking_detection.threshold",
                  "added overhead per request"):
        assert title in text
