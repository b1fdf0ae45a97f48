"""What a proxy adds to each request: direct vs Switchyard gateway vs nginx vs LiteLLM Proxy, and what the
gateway's translating front doors (Anthropic Messages, OpenAI Responses) add over its chat completions.

Usage: .venv/bin/python benchmarks/overhead.py [--requests N] [--duration-s S] [--with-litellm] [--json FILE]

Starts a zero-delay upstream (by default the minimal raw-asyncio one in benchmarks/harness/
upstream.py; `--upstream emulator` uses `gateway emulate --ttft-ms 0 --tpot-ms 0`), the gateway
on the benchmark policy with routing, accounting and metrics all on (benchmarks/harness/
gateway_policy.py), nginx (when installed) and, with --with-litellm, LiteLLM Proxy 1.110.2
from a venv it builds on first use. Every path is measured with the same load generator, on
loopback only, interleaved: each scenario is split into rounds, and each round runs every path
once, in rotated order, so drift on this shared machine hits all paths alike. The paths `messages`
and `responses` send the same request to the same gateway process as `POST /v1/messages` and
`POST /v1/responses`; the table's last section prints their p50 (and time to first chunk) minus the
`gateway` path's, scenario by scenario. Scenarios:
non-streaming at 1, 32 and 128 clients, streaming (20 chunks) at 1 and 32. Bounded: at most
--requests requests and --duration-s seconds per path and scenario. All processes stop at the
end, on errors and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import BaseModel  # noqa: E402

from benchmarks.harness.entry import log, run_script  # noqa: E402
from benchmarks.harness.eventloop import run_blocking  # noqa: E402
from benchmarks.harness.gateway_policy import BENCH_KEY, GATEWAY_MODEL, gateway_policy_yaml  # noqa: E402
from benchmarks.harness.litellm_venv import (  # noqa: E402
    DEFAULT_VENV_DIR,
    LITELLM_VERSION,
    LitellmVenvError,
    build_litellm_venv,
    venv_is_ready,
)
from benchmarks.harness.loadgen import LoadResult, Target, chat_body, messages_body, responses_body, run_load  # noqa: E402
from benchmarks.harness.nginx import INSTALL_HINT, find_nginx  # noqa: E402
from benchmarks.harness.processes import LOOPBACK, ManagedProcess, ProcessGroup, ProcessStartError  # noqa: E402
from benchmarks.harness.procstat import tree_cpu_time_s, tree_rss_bytes  # noqa: E402
from benchmarks.harness.redis_keys import delete_redis_keys  # noqa: E402
from benchmarks.harness.stack import (  # noqa: E402
    gateway_serve_supports,
    start_emulator,
    start_gateway,
    start_litellm_proxy,
    start_minimal_upstream,
    start_nginx,
)
from benchmarks.harness.stats import summarize_ms  # noqa: E402
from benchmarks.harness.upstream import UPSTREAM_MODEL  # noqa: E402

ALL_PATHS = ("direct", "gateway", "messages", "responses", "nginx", "litellm")
FRONT_DOORS = {  # path -> (endpoint, request body builder, end of a stream, marker of a whole answer)
    "messages": ("/v1/messages", messages_body, (b"message_stop",), b'"content"'),
    "responses": ("/v1/responses", responses_body, (b"response.completed", b"response.incomplete"), b'"output"'),
}
LITELLM_MODEL = "bench-model"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Scenario:
    """One load shape: streamed or not, with this many concurrent clients."""

    stream: bool
    concurrency: int

    @property
    def name(self) -> str:
        return f"{'stream' if self.stream else 'non-stream'} c{self.concurrency}"


SCENARIOS = (Scenario(False, 1), Scenario(False, 32), Scenario(False, 128), Scenario(True, 1), Scenario(True, 32))


@dataclass
class BenchPath:
    """One way to reach the upstream: directly or through a proxy process."""

    name: str
    target: Target
    model: str
    process: ManagedProcess | None  # the proxy whose CPU and RSS are measured; None for direct
    body: Callable[[str, bool], bytes] = chat_body


class PathResult(BaseModel):
    """One path in one scenario."""

    path: str
    scenario: str
    stream: bool
    concurrency: int
    requests: int
    errors: int
    error_kinds: dict[str, int]
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    added_p50_ms: float | None
    first_chunk_p50_ms: float | None
    added_first_chunk_p50_ms: float | None
    added_p50_over_chat_ms: float | None = None  # messages / responses: p50 minus the gateway path's
    added_first_chunk_p50_over_chat_ms: float | None = None
    added_cpu_ms_per_request_over_chat: float | None = None
    rps: float
    cpu_ms_per_request: float | None
    rss_mib_after: float | None
    client_cpu_ms_per_request: float | None


class OverheadReport(BaseModel):
    """Everything `--json` writes."""

    upstream: str
    paths: list[str]
    skipped: dict[str, str]
    gateway_workers: int
    requests_per_path_and_scenario: int
    duration_s_per_path_and_scenario: float
    rounds: int
    warmup_requests: int
    cpu_count: int
    load_average_at_start: list[float]
    results: list[PathResult]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure the latency and CPU a proxy adds over calling a zero-delay upstream directly.")
    parser.add_argument("--requests", type=int, default=3000, help="requests per path and scenario (default 3000)")
    parser.add_argument("--duration-s", type=float, default=10.0, help="time cap per path and scenario (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per scenario (default 3)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per path before each scenario (default 200)")
    parser.add_argument("--paths", default=None,
                        help=f"comma-separated subset of {','.join(ALL_PATHS)} (default: all; litellm only with --with-litellm)")
    parser.add_argument("--scenarios", default=None, help="comma-separated subset, e.g. 'non-stream c1,stream c32' (default: all five)")
    parser.add_argument("--upstream", choices=("minimal", "emulator"), default="minimal", help="zero-delay upstream (default minimal)")
    parser.add_argument("--workers", type=int, default=1, help="gateway workers, passed as --workers when `gateway serve` supports it")
    parser.add_argument("--redis-url", default=None, help="passed to `gateway serve --redis-url` (shared state for --workers)")
    parser.add_argument("--with-litellm", action="store_true",
                        help=f"also measure LiteLLM Proxy {LITELLM_VERSION} (builds its venv on first use)")
    parser.add_argument("--litellm-venv", type=Path, default=DEFAULT_VENV_DIR, help=f"venv for LiteLLM Proxy (default {DEFAULT_VENV_DIR})")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON to this file")
    args = parser.parse_args(argv)
    args.redis_prefix = f"switchyard-bench-{secrets.token_hex(4)}:"  # this run's keys only, deleted at the end
    if args.requests < 1 or args.duration_s <= 0 or args.rounds < 1 or args.warmup < 0 or args.workers < 1:
        parser.error("--requests, --rounds and --workers must be at least 1, --duration-s positive, --warmup not negative")
    args.paths = _choose(parser, "--paths", args.paths, ALL_PATHS)
    args.scenarios = [s for s in SCENARIOS if s.name in _choose(parser, "--scenarios", args.scenarios, tuple(s.name for s in SCENARIOS))]
    if args.with_litellm and "litellm" not in args.paths:
        parser.error("--with-litellm needs litellm among --paths")
    if args.workers > 1 and not args.redis_url:
        parser.error("--workers above 1 needs --redis-url (the workers share budgets, limits and state through Redis)")
    return args


def _choose(parser: argparse.ArgumentParser, flag: str, given: str | None, valid: tuple[str, ...]) -> list[str]:
    if given is None:
        return list(valid)
    chosen = [item.strip() for item in given.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in valid]
    if unknown or not chosen:
        parser.error(f"{flag}: unknown {', '.join(unknown) or 'empty list'}; valid: {', '.join(valid)}")
    return chosen


def _gateway_args(args: argparse.Namespace) -> tuple[tuple[str, ...], int]:
    extra: list[str] = []
    workers = 1
    if args.workers > 1:
        if gateway_serve_supports("--workers"):
            extra += ["--workers", str(args.workers)]
            workers = args.workers
        else:
            log(f"note: `gateway serve` has no --workers yet; measuring 1 worker, not {args.workers}")
    if args.redis_url:
        extra += ["--redis-url", args.redis_url]
    return tuple(extra), workers


def _wait_for_workers(gateway: ManagedProcess, workers: int, timeout_s: float = 120.0) -> None:
    """Until the gateway's supervisor says every worker listens (the first one answers /readyz before the rest)."""
    line = f"all {workers} workers serving"
    deadline = time.monotonic() + timeout_s
    while line not in gateway.log_tail(20_000):
        if gateway.process.poll() is not None or time.monotonic() > deadline:
            raise ProcessStartError(f"gateway: not every one of its {workers} workers started; log: {gateway.log_path}")
        time.sleep(0.1)


def start_paths(group: ProcessGroup, directory: Path, args: argparse.Namespace) -> tuple[list[BenchPath], dict[str, str], str, int]:
    """Start the upstream and every requested proxy; (paths, skipped paths with reasons, upstream description, workers)."""
    if args.upstream == "minimal":
        upstream = start_minimal_upstream(group)
        description = "minimal zero-delay upstream (benchmarks/harness/upstream.py, raw asyncio on uvloop)"
    else:
        upstream = start_emulator(group, "upstream-emulator", "vllm")
        description = "gateway emulate --profile vllm --ttft-ms 0 --tpot-ms 0"
    paths = [BenchPath("direct", Target(LOOPBACK, upstream.port), UPSTREAM_MODEL, None)] if "direct" in args.paths else []
    skipped: dict[str, str] = {}
    workers = 1
    doors = [name for name in FRONT_DOORS if name in args.paths]
    if "gateway" in args.paths or doors:
        extra, workers = _gateway_args(args)
        env = {"SWITCHYARD_REDIS_PREFIX": args.redis_prefix} if args.redis_url else None
        gateway = start_gateway(group, directory, gateway_policy_yaml(upstream.port), extra_args=extra, env=env)
        if workers > 1:
            _wait_for_workers(gateway, workers)
        auth = (("Authorization", f"Bearer {BENCH_KEY}"),)
        if "gateway" in args.paths:
            paths.append(BenchPath("gateway", Target(LOOPBACK, gateway.port, headers=auth), GATEWAY_MODEL, gateway))
        for name in doors:
            endpoint, body, stream_end, body_marker = FRONT_DOORS[name]
            target = Target(LOOPBACK, gateway.port, path=endpoint, headers=auth, stream_end=stream_end, body_marker=body_marker)
            paths.append(BenchPath(name, target, GATEWAY_MODEL, gateway, body))
    if "nginx" in args.paths:
        binary = find_nginx()
        if binary is None:
            skipped["nginx"] = INSTALL_HINT
        else:
            nginx = start_nginx(group, directory, binary, upstream.port)
            paths.append(BenchPath("nginx", Target(LOOPBACK, nginx.port), UPSTREAM_MODEL, nginx))
    if "litellm" in args.paths and not args.with_litellm:
        skipped["litellm"] = f"not requested; add --with-litellm (builds LiteLLM Proxy {LITELLM_VERSION} in {args.litellm_venv} once)"
    elif "litellm" in args.paths:
        reason = _prepare_litellm(args)
        if reason is not None:
            skipped["litellm"] = reason
        else:
            master_key = "sk-bench-" + secrets.token_hex(16)
            proxy = start_litellm_proxy(
                group, directory, args.litellm_venv, model_name=LITELLM_MODEL, upstream_model=UPSTREAM_MODEL, upstream_port=upstream.port,
                master_key=master_key,
            )
            target = Target(LOOPBACK, proxy.port, headers=(("Authorization", f"Bearer {master_key}"),))
            paths.append(BenchPath("litellm", target, LITELLM_MODEL, proxy))
    return paths, skipped, description, workers


def _prepare_litellm(args: argparse.Namespace) -> str | None:
    """None when LiteLLM Proxy is ready to start, else why that path is skipped."""
    if venv_is_ready(args.litellm_venv):
        return None
    log(f"building LiteLLM Proxy {LITELLM_VERSION} venv at {args.litellm_venv} (minutes, once)")
    try:
        versions = build_litellm_venv(args.litellm_venv, lambda line: log("  " + line))
    except LitellmVenvError as exc:
        return f"could not build its venv: {exc}"
    log(f"LiteLLM Proxy venv ready: {versions}")
    return None


async def measure_scenario(paths: list[BenchPath], scenario: Scenario, args: argparse.Namespace) -> list[PathResult]:
    """Warm every path, then run `args.rounds` interleaved rounds; one result per path."""
    bodies = {p.name: p.body(p.model, scenario.stream) for p in paths}
    slice_duration_s = args.duration_s / args.rounds
    for path in paths:
        if args.warmup:
            await run_load(path.target, bodies[path.name], stream=scenario.stream, concurrency=scenario.concurrency,
                           requests=args.warmup, duration_s=slice_duration_s)
    merged = {p.name: LoadResult() for p in paths}
    cpu_s = {p.name: 0.0 for p in paths}
    for round_index in range(args.rounds):
        slice_requests = args.requests // args.rounds + (1 if round_index < args.requests % args.rounds else 0)
        if slice_requests == 0:
            continue
        shift = round_index % len(paths)
        for path in paths[shift:] + paths[:shift]:
            cpu_before_s = tree_cpu_time_s(path.process.pid) if path.process else 0.0
            result = await run_load(path.target, bodies[path.name], stream=scenario.stream, concurrency=scenario.concurrency,
                                    requests=slice_requests, duration_s=slice_duration_s)
            if path.process:
                cpu_s[path.name] += tree_cpu_time_s(path.process.pid) - cpu_before_s
            merged[path.name].merge(result)
    return [_path_result(p, scenario, merged[p.name], cpu_s[p.name]) for p in paths]


def _path_result(path: BenchPath, scenario: Scenario, result: LoadResult, cpu_s: float) -> PathResult:
    latency = summarize_ms(result.latencies_s)
    first_chunk = summarize_ms(result.first_chunk_s)
    done = result.completed
    return PathResult(
        path=path.name, scenario=scenario.name, stream=scenario.stream, concurrency=scenario.concurrency,
        requests=done, errors=result.errors, error_kinds=dict(result.error_kinds),
        p50_ms=latency.p50_ms if latency else None, p90_ms=latency.p90_ms if latency else None, p99_ms=latency.p99_ms if latency else None,
        added_p50_ms=None, first_chunk_p50_ms=first_chunk.p50_ms if first_chunk else None, added_first_chunk_p50_ms=None,
        rps=result.rps,
        cpu_ms_per_request=(cpu_s / done * 1000.0) if path.process and done else None,
        rss_mib_after=tree_rss_bytes(path.process.pid) / MIB if path.process else None,
        client_cpu_ms_per_request=(result.client_cpu_s / done * 1000.0) if done else None,
    )


def _add_overhead_over_direct(results: list[PathResult]) -> None:
    direct = next((r for r in results if r.path == "direct"), None)
    if direct is None:
        return
    for r in results:
        if r.p50_ms is not None and direct.p50_ms is not None:
            r.added_p50_ms = r.p50_ms - direct.p50_ms
        if r.first_chunk_p50_ms is not None and direct.first_chunk_p50_ms is not None:
            r.added_first_chunk_p50_ms = r.first_chunk_p50_ms - direct.first_chunk_p50_ms


def _add_overhead_over_chat(results: list[PathResult]) -> None:
    chat = next((r for r in results if r.path == "gateway"), None)
    if chat is None:
        return
    for r in results:
        if r.path in FRONT_DOORS:
            if r.p50_ms is not None and chat.p50_ms is not None:
                r.added_p50_over_chat_ms = r.p50_ms - chat.p50_ms
            if r.first_chunk_p50_ms is not None and chat.first_chunk_p50_ms is not None:
                r.added_first_chunk_p50_over_chat_ms = r.first_chunk_p50_ms - chat.first_chunk_p50_ms
            if r.cpu_ms_per_request is not None and chat.cpu_ms_per_request is not None:
                r.added_cpu_ms_per_request_over_chat = r.cpu_ms_per_request - chat.cpu_ms_per_request


async def measure_all(paths: list[BenchPath], args: argparse.Namespace) -> list[PathResult]:
    results: list[PathResult] = []
    for scenario in args.scenarios:
        log(f"measuring {scenario.name} on {', '.join(p.name for p in paths)}")
        scenario_results = await measure_scenario(paths, scenario, args)
        _add_overhead_over_direct(scenario_results)
        _add_overhead_over_chat(scenario_results)
        results += scenario_results
    return results


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_table(report: OverheadReport) -> str:
    """The printed summary: one row per scenario and path."""
    header = (f"{'scenario':<14} {'path':<8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'TTFC p50':>9} {'+TTFC':>7} "
              f"{'RPS':>7} {'reqs':>6} {'errors':>6} {'CPU ms/req':>10} {'RSS MiB':>8}")
    lines = [
        f"upstream: {report.upstream}",
        f"gateway workers: {report.gateway_workers}; {report.cpu_count} CPUs, load average at start {report.load_average_at_start[0]:.2f}; "
        f"up to {report.requests_per_path_and_scenario} requests / {report.duration_s_per_path_and_scenario:g} s per path and scenario "
        f"in {report.rounds} interleaved rounds after {report.warmup_requests} warm-up requests",
        "", header, "-" * len(header),
    ]
    previous = None
    for r in report.results:
        if previous is not None and r.scenario != previous:
            lines.append("")
        previous = r.scenario
        lines.append(
            f"{r.scenario:<14} {r.path:<8} {_cell(r.p50_ms):>8} {_cell(r.p90_ms):>8} {_cell(r.p99_ms):>8} {_cell(r.added_p50_ms):>8} "
            f"{_cell(r.first_chunk_p50_ms):>9} {_cell(r.added_first_chunk_p50_ms):>7} {r.rps:>7.0f} {r.requests:>6} {r.errors:>6} "
            f"{_cell(r.cpu_ms_per_request):>10} {_cell(r.rss_mib_after, 1):>8}"
        )
    client_cpu = [r.client_cpu_ms_per_request for r in report.results if r.client_cpu_ms_per_request is not None]
    if client_cpu:
        lines.append(f"\nload generator CPU per request: {min(client_cpu):.3f}-{max(client_cpu):.3f} ms (raw asyncio HTTP/1.1 on uvloop)")
    doors = [r for r in report.results if r.added_p50_over_chat_ms is not None]
    if doors:
        lines.append("\ntranslation over /v1/chat/completions on the same gateway (p50 difference; TTFC for streams; "
                     "the gateway's CPU per request):")
        for r in doors:
            ttfc = "" if r.added_first_chunk_p50_over_chat_ms is None else f", TTFC {r.added_first_chunk_p50_over_chat_ms:+.3f} ms"
            cpu = "" if r.added_cpu_ms_per_request_over_chat is None else f", CPU {r.added_cpu_ms_per_request_over_chat:+.3f} ms/req"
            lines.append(f"  {r.scenario:<14} {r.path:<10} p50 {r.added_p50_over_chat_ms:+.3f} ms{ttfc}{cpu}")
    for name, reason in report.skipped.items():
        lines.append(f"skipped {name}: {reason}")
    lines.append("CPU ms/req: the proxy's utime+stime from /proc over requests served; TTFC: time to first streamed chunk; "
                 "+: over direct. Shared machine: expect noise.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    load_average = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="switchyard-overhead-") as tmp, ProcessGroup(Path(tmp)) as group:
        paths, skipped, upstream, workers = start_paths(group, Path(tmp), args)
        started_s = time.perf_counter()
        results = run_blocking(lambda: measure_all(paths, args))
        log(f"measured in {time.perf_counter() - started_s:.1f} s")
    if args.redis_url:
        delete_redis_keys(args.redis_url, args.redis_prefix)
    report = OverheadReport(
        upstream=upstream, paths=[p.name for p in paths], skipped=skipped, gateway_workers=workers,
        requests_per_path_and_scenario=args.requests, duration_s_per_path_and_scenario=args.duration_s, rounds=args.rounds,
        warmup_requests=args.warmup, cpu_count=os.cpu_count() or 1, load_average_at_start=load_average, results=results,
    )
    print(render_table(report))
    if args.json is not None:
        args.json.write_text(report.model_dump_json(indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_script("overhead", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
