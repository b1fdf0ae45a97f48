"""benchmarks/profile_gateway.py: py-spy's raw stacks summarised into shares, and a tiny real run (no timing assertions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.harness.procstat import thread_cpu_times_s
from benchmarks.profile_gateway import frame_label, py_spy_executable, summarize

ROOT = Path(__file__).resolve().parents[2]

RAW = """\
thread (0x1);main (cli.py:10);serve (relay.py:20);feed (sse.py:30) 6
thread (0x1);main (cli.py:10);serve (relay.py:20) 2
thread (0x2);_serve (writer.py:5);write (sqlite_sink.py:7) 2
"""


def test_frames_are_shortened_to_function_and_file_name() -> None:
    assert frame_label("feed (/work/main/backends/sse.py:87)") == "feed (sse.py)"
    assert frame_label("0x7f00 (libc.so.6)") == "0x7f00 (libc.so.6)"


def test_self_and_inclusive_shares_are_of_all_samples() -> None:
    text = summarize(RAW, top=10)
    assert "10 samples; threads: 80%, 20%" in text
    self_part, inclusive_part = text.split("inclusive")
    assert "60.0%  feed (sse.py)" in self_part and "20.0%  serve (relay.py)" in self_part
    assert "80.0%  serve (relay.py)" in inclusive_part and "20.0%  _serve (writer.py)" in inclusive_part


def test_threads_of_this_process_are_listed_with_the_main_one_first_named() -> None:
    times = thread_cpu_times_s(os.getpid())
    assert "main" in times and all(seconds >= 0 for seconds in times.values())


@pytest.mark.slow
def test_a_short_profile_prints_cpu_per_thread_and_the_top_frames() -> None:
    if py_spy_executable() is None:
        pytest.skip("py-spy is not installed")
    done = subprocess.run([sys.executable, "benchmarks/profile_gateway.py", "--scenarios", "non-stream c1", "--duration-s", "1",
                           "--top", "5"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    if "py-spy failed" in done.stdout:  # no ptrace permission here (a container without SYS_PTRACE)
        pytest.skip(done.stdout.strip().splitlines()[-1])
    assert "non-stream c1:" in done.stdout and "0 errors" in done.stdout
    assert "CPU ms per request by thread: main " in done.stdout
    assert "self      share  frame" in done.stdout and "inclusive share  frame" in done.stdout
