"""Where the gateway's CPU goes under load: py-spy samples of `gateway serve` on the benchmark policy.

Usage: .venv/bin/python benchmarks/profile_gateway.py [--scenarios 'stream c1,non-stream c32'] [--duration-s 6] [--raw-dir DIR]

Starts the minimal zero-delay upstream and the gateway exactly as `benchmarks/overhead.py` does
(routing, accounting and metrics all on), warms each scenario up, then samples the gateway with
`py-spy record --nonblocking` (from the venv) while the same load generator drives it. For each
scenario it prints the busiest functions by their own samples ("self") and the frames most of
the samples pass through ("inclusive"), each as a share of all samples of the gateway's threads
(py-spy counts a thread while it runs or waits for a CPU, so on a busy machine shares are of
wall time), and each thread's CPU time per request from /proc (exact, 10 ms ticks).
Bounded in time, loopback only; every process stops at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness.entry import log, run_script  # noqa: E402
from benchmarks.harness.eventloop import run_blocking  # noqa: E402
from benchmarks.harness.gateway_policy import BENCH_KEY, GATEWAY_MODEL, gateway_policy_yaml  # noqa: E402
from benchmarks.harness.loadgen import Target, chat_body, run_load  # noqa: E402
from benchmarks.harness.processes import LOOPBACK, ProcessGroup  # noqa: E402
from benchmarks.harness.procstat import thread_cpu_times_s  # noqa: E402
from benchmarks.harness.redis_keys import delete_redis_keys  # noqa: E402
from benchmarks.harness.stack import start_gateway, start_minimal_upstream  # noqa: E402

SCENARIOS = {"non-stream c1": (False, 1), "non-stream c32": (False, 32), "stream c1": (True, 1), "stream c32": (True, 32)}
PY_SPY_ATTACH_S = 0.5  # py-spy needs a moment to attach before the measured load starts
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Sample the gateway with py-spy under benchmark load and print its top frames.")
    parser.add_argument("--scenarios", default="stream c1,non-stream c32", help=f"comma-separated subset of: {', '.join(SCENARIOS)}")
    parser.add_argument("--duration-s", type=float, default=6.0, help="sampled seconds per scenario (default 6)")
    parser.add_argument("--rate", type=int, default=400, help="py-spy samples per second (default 400)")
    parser.add_argument("--top", type=int, default=25, help="frames listed per table (default 25)")
    parser.add_argument("--raw-dir", type=Path, default=None, help="keep py-spy's raw (collapsed-stack) files here")
    parser.add_argument("--redis-url", default=None, help="run the gateway with Redis-shared state (`gateway serve --redis-url`)")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown or not args.scenarios:
        parser.error(f"--scenarios: unknown {', '.join(unknown) or 'empty list'}; valid: {', '.join(SCENARIOS)}")
    if args.duration_s <= 0 or args.rate < 1 or args.top < 1:
        parser.error("--duration-s must be positive, --rate and --top at least 1")
    return args


def py_spy_executable() -> Path | None:
    """py-spy next to this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return beside
    found = shutil.which("py-spy")
    return Path(found) if found else None


def frame_label(frame: str) -> str:
    """`function (path/to/file.py:LINE)` -> `function (file.py)`, short enough for a table."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    return f"{match['func']} ({Path(match['file']).name})"


def summarize(raw_text: str, top: int) -> str:
    """Tables of self and inclusive shares from py-spy's raw output (one `frame;frame;... COUNT` per line)."""
    self_samples: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in raw_text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[0].startswith(("thread (", "process ")):
            threads[frames[0]] += count
            frames = [f for f in frames[1:] if not f.startswith(("thread (", "process "))]
        if not frames:
            continue
        total += count
        labels = [frame_label(f) for f in frames]
        self_samples[labels[-1]] += count
        for label in set(labels):
            inclusive[label] += count
    if total == 0:
        return "  no samples (did py-spy attach?)"
    lines = [f"  {total} samples; threads: " + ", ".join(f"{n / total:.0%}" for _, n in threads.most_common())]
    for title, counter in (("self", self_samples), ("inclusive", inclusive)):
        lines.append(f"  {title:<9} share  frame")
        lines += [f"  {'':<9} {n / total:5.1%}  {label}" for label, n in counter.most_common(top)]
    return "\n".join(lines)


def profile(args: argparse.Namespace) -> int:
    spy = py_spy_executable()
    if spy is None:
        log("profile_gateway: py-spy is not installed (pip install py-spy)")
        return 2
    prefix = f"switchyard-profile-{os.getpid()}:"  # this run's Redis keys, deleted at the end
    with tempfile.TemporaryDirectory(prefix="switchyard-profile-") as tmp, ProcessGroup(Path(tmp)) as group:
        directory = Path(tmp)
        upstream = start_minimal_upstream(group)
        extra = ("--redis-url", args.redis_url) if args.redis_url else ()
        gateway = start_gateway(group, directory, gateway_policy_yaml(upstream.port), extra_args=extra,
                                env={"SWITCHYARD_REDIS_PREFIX": prefix})
        target = Target(LOOPBACK, gateway.port, headers=(("Authorization", f"Bearer {BENCH_KEY}"),))
        raw_dir = args.raw_dir or directory
        raw_dir.mkdir(parents=True, exist_ok=True)
        for name in args.scenarios:
            stream, concurrency = SCENARIOS[name]
            body = chat_body(GATEWAY_MODEL, stream)
            run_blocking(lambda: run_load(target, body, stream=stream, concurrency=concurrency, requests=500, duration_s=3.0))
            raw = raw_dir / f"{name.replace(' ', '-')}.txt"
            sampler = subprocess.Popen(
                [str(spy), "record", "--pid", str(gateway.pid), "--duration", f"{args.duration_s:g}", "--rate", str(args.rate),
                 "--format", "raw", "--output", str(raw), "--nonblocking", "--threads"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            time.sleep(PY_SPY_ATTACH_S)
            cpu_before = thread_cpu_times_s(gateway.pid)
            result = run_blocking(lambda: run_load(target, body, stream=stream, concurrency=concurrency, requests=10**7,
                                                   duration_s=args.duration_s))
            cpu_after = thread_cpu_times_s(gateway.pid)
            _, stderr = sampler.communicate(timeout=args.duration_s + 30)
            print(f"{name}: {result.ok} requests, {result.errors} errors, {result.rps:.0f} RPS while sampled")
            print("  CPU ms per request by thread: " + ", ".join(
                f"{thread} {(cpu_after[thread] - cpu_before.get(thread, 0.0)) / max(result.completed, 1) * 1000:.3f}"
                for thread in sorted(cpu_after, key=lambda t: cpu_before.get(t, 0.0) - cpu_after[t])
                if cpu_after[thread] > cpu_before.get(thread, 0.0)
            ))
            if sampler.returncode != 0 or not raw.exists():
                print(f"  py-spy failed: {stderr.decode(errors='replace').strip()[-500:]}")
                continue
            print(summarize(raw.read_text(), args.top))
            print()
    if args.redis_url:  # the gateway has stopped: nothing writes them any more
        delete_redis_keys(args.redis_url, prefix)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_script("profile_gateway", profile, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
