"""Sustained load through the gateway to flaky emulators: does anything leak, break or get lost?

Usage: .venv/bin/python benchmarks/load.py [--requests 5000] [--concurrency 200] [--json FILE]

Starts several `gateway emulate` upstreams that each fail --fail-rate of requests (seeded), in
fault modes a fallback can absorb (500, 429, connection reset before the first byte), and the
gateway with all of them as backends of one weighted route with fallback. Then --concurrency
clients (half of them streaming) send --requests requests over loopback, bounded by
--duration-s. Prints requests served, client-visible errors (those no fallback absorbed), 5xx
from the gateway, p50/p99 latency, the gateway's RSS before and after, and whether the usage
ledger (when the gateway has one) holds exactly one record per upstream attempt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import BaseModel  # noqa: E402

from benchmarks.harness.entry import log, run_script  # noqa: E402
from benchmarks.harness.eventloop import run_blocking  # noqa: E402
from benchmarks.harness.ledger import LEDGER_PATH_ENV, LedgerCheck, check_ledger, read_upstream_attempts  # noqa: E402
from benchmarks.harness.loadgen import LoadResult, Target, chat_body, run_load  # noqa: E402
from benchmarks.harness.processes import LOOPBACK, ManagedProcess, ProcessGroup  # noqa: E402
from benchmarks.harness.procstat import tree_rss_bytes  # noqa: E402
from benchmarks.harness.stack import start_emulator, start_gateway  # noqa: E402
from benchmarks.harness.stats import LatencySummary, summarize_ms  # noqa: E402

PROFILES = ("vllm", "sglang", "novita")
DEFAULT_FAIL_MODES = ("500", "429", "reset")
MODEL = "deepseek-v3.2"
WARMUP_REQUESTS = 20
LEDGER_FILE = "ledger.sqlite3"
MIB = 1024 * 1024


class TrafficResult(BaseModel):
    """One half of the traffic (streaming or not)."""

    stream: bool
    clients: int
    requests: int
    ok: int
    errors: int
    error_kinds: dict[str, int]
    status_counts: dict[str, int]
    latency: LatencySummary | None


class LoadReport(BaseModel):
    """Everything `--json` writes."""

    requests: int
    served: int
    client_visible_errors: int
    gateway_5xx: int
    gateway_500: int
    latency: LatencySummary | None
    rps: float
    elapsed_s: float
    gateway_rss_mib_before: float
    gateway_rss_mib_after: float
    gateway_rss_growth_mib: float
    emulators: list[str]
    fail_rate: float
    traffic: list[TrafficResult]
    ledger: LedgerCheck


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Drive half-streaming load through the gateway to emulators with injected faults.")
    parser.add_argument("--requests", type=int, default=5000, help="total requests (default 5000)")
    parser.add_argument("--concurrency", type=int, default=200, help="concurrent clients, half of them streaming (default 200)")
    parser.add_argument("--duration-s", type=float, default=300.0, help="time cap for the whole run (default 300)")
    parser.add_argument("--fail-rate", type=float, default=0.05, help="fraction of requests each emulator fails (default 0.05)")
    parser.add_argument("--fail-modes", default=",".join(DEFAULT_FAIL_MODES),
                        help=f"comma-separated fault mode per emulator, one emulator each (default {','.join(DEFAULT_FAIL_MODES)})")
    parser.add_argument("--ttft-ms", type=float, default=0.0, help="emulators' time to first token (default 0)")
    parser.add_argument("--tpot-ms", type=float, default=0.0, help="emulators' time per further token (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the emulators' fault draws (default 0)")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.requests < 2 or args.concurrency < 2 or args.duration_s <= 0:
        parser.error("--requests and --concurrency must be at least 2 (half stream, half do not), --duration-s positive")
    if not 0.0 <= args.fail_rate <= 1.0:
        parser.error(f"--fail-rate must be between 0 and 1, got {args.fail_rate}")
    args.fail_modes = [m.strip() for m in args.fail_modes.split(",") if m.strip()]
    if not args.fail_modes:
        parser.error("--fail-modes: give at least one mode")
    return args


def policy_yaml(emulators: list[tuple[str, str, int]]) -> str:
    """Every emulator a backend of its own type, equally weighted, each the others' fallback."""
    backends = "".join(
        f"  {name}:\n    type: {profile}\n    base_url: http://{LOOPBACK}:{port}/v1\n    model: emulated-{profile}\n"
        f"    family: deepseek-v3.2\n    api_key: sk-bench-not-a-real-key\n"
        for name, profile, port in emulators
    )
    names = [name for name, _, _ in emulators]
    weights = ", ".join(f"{name}: 1" for name in names)
    return (
        f"version: 1\nbackends:\n{backends}models:\n  {MODEL}: {{}}\n"
        f"routes:\n  - name: spread\n    use: [{', '.join(names)}]\n    prefer: weighted\n    weights: {{{weights}}}\n"
        f"fallback:\n  on: [connect_error, timeout, rate_limited, server_error]\n  max_attempts: {len(names)}\n"
    )


async def drive(target: Target, args: argparse.Namespace) -> tuple[LoadResult, LoadResult]:
    """Warm up, then run the streaming and non-streaming halves side by side."""
    await run_load(target, chat_body(MODEL, False), stream=False, concurrency=2, requests=WARMUP_REQUESTS, duration_s=args.duration_s)
    stream_clients, plain_clients = args.concurrency // 2, args.concurrency - args.concurrency // 2
    stream_requests, plain_requests = args.requests // 2, args.requests - args.requests // 2
    streamed, plain = await asyncio.gather(
        run_load(target, chat_body(MODEL, True), stream=True, concurrency=stream_clients, requests=stream_requests,
                 duration_s=args.duration_s),
        run_load(target, chat_body(MODEL, False), stream=False, concurrency=plain_clients, requests=plain_requests,
                 duration_s=args.duration_s),
    )
    return streamed, plain


def _traffic(result: LoadResult, stream: bool, clients: int) -> TrafficResult:
    return TrafficResult(
        stream=stream, clients=clients, requests=result.completed, ok=result.ok, errors=result.errors,
        error_kinds=dict(result.error_kinds), status_counts={str(k): v for k, v in sorted(result.status_counts.items())},
        latency=summarize_ms(result.latencies_s),
    )


def _start(group: ProcessGroup, directory: Path, args: argparse.Namespace) -> tuple[list[ManagedProcess], ManagedProcess, list[str]]:
    """Start one emulator per fault mode, then the gateway over all of them; (emulators, gateway, descriptions)."""
    emulators: list[ManagedProcess] = []
    described: list[str] = []
    for index, mode in enumerate(args.fail_modes):
        profile = PROFILES[index % len(PROFILES)]
        flags = ("--fail-rate", str(args.fail_rate), "--fail-mode", mode, "--seed", str(args.seed + index),
                 "--ttft-ms", str(args.ttft_ms), "--tpot-ms", str(args.tpot_ms))
        emulators.append(start_emulator(group, f"emulator-{index}-{profile}", profile, *flags))
        described.append(f"{profile} ({mode} at {args.fail_rate:g})")
    specs = [(f"emu-{i}-{PROFILES[i % len(PROFILES)]}", PROFILES[i % len(PROFILES)], e.port) for i, e in enumerate(emulators)]
    gateway = start_gateway(group, directory, policy_yaml(specs), env={LEDGER_PATH_ENV: str(directory / LEDGER_FILE)})
    return emulators, gateway, described


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="switchyard-load-") as tmp, ProcessGroup(Path(tmp)) as group:
        emulators, gateway, described = _start(group, Path(tmp), args)
        target = Target(LOOPBACK, gateway.port)
        rss_before = tree_rss_bytes(gateway.pid)
        log(f"load: {args.requests} requests, {args.concurrency} clients, through {gateway.name} :{gateway.port} to {', '.join(described)}")
        streamed, plain = run_blocking(lambda: drive(target, args))
        rss_after = tree_rss_bytes(gateway.pid)
        attempts = read_upstream_attempts(emulators)
        gateway.stop()  # SIGTERM: the gateway flushes its ledger before it exits
        ledger = check_ledger(Path(tmp) / LEDGER_FILE, attempts)
    total = LoadResult()
    total.merge(streamed)
    total.merge(plain)
    total.elapsed_s = max(streamed.elapsed_s, plain.elapsed_s)  # the halves ran side by side
    statuses: Counter[int] = total.status_counts
    report = LoadReport(
        requests=args.requests, served=total.completed, client_visible_errors=total.errors,
        gateway_5xx=sum(n for status, n in statuses.items() if status >= 500), gateway_500=statuses.get(500, 0),
        latency=summarize_ms(total.latencies_s), rps=total.rps, elapsed_s=total.elapsed_s,
        gateway_rss_mib_before=rss_before / MIB, gateway_rss_mib_after=rss_after / MIB,
        gateway_rss_growth_mib=(rss_after - rss_before) / MIB,
        emulators=described, fail_rate=args.fail_rate,
        traffic=[_traffic(streamed, True, args.concurrency // 2), _traffic(plain, False, args.concurrency - args.concurrency // 2)],
        ledger=ledger,
    )
    print(render(report))
    if args.json is not None:
        args.json.write_text(report.model_dump_json(indent=2) + "\n")
    return 0


def _latency(summary: LatencySummary | None) -> str:
    return "-" if summary is None else f"p50 {summary.p50_ms:.1f} ms, p99 {summary.p99_ms:.1f} ms"


def render(report: LoadReport) -> str:
    lines = [
        f"upstreams: {', '.join(report.emulators)}",
        f"requests served: {report.served} of {report.requests} in {report.elapsed_s:.1f} s ({report.rps:.0f} RPS)",
        f"client-visible errors: {report.client_visible_errors}",
        f"5xx from the gateway: {report.gateway_5xx} (500: {report.gateway_500})",
        f"latency: {_latency(report.latency)}",
    ]
    for part in report.traffic:
        kinds = json.dumps(part.error_kinds) if part.error_kinds else "none"
        lines.append(f"  {'streaming' if part.stream else 'non-streaming'} ({part.clients} clients): {part.requests} requests, "
                     f"{part.errors} errors ({kinds}), {_latency(part.latency)}, statuses {json.dumps(part.status_counts)}")
    lines += [
        f"gateway RSS: {report.gateway_rss_mib_before:.1f} MiB before, {report.gateway_rss_mib_after:.1f} MiB after "
        f"({report.gateway_rss_growth_mib:+.1f} MiB)",
        f"ledger: {report.ledger.summary}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_script("load", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
