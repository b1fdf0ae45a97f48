"""`gateway simulate --config A.yaml [--config B.yaml ...] --trace FILE`: replay traffic through policies
in simulated time and compare cost, spill-over and latency side by side, without calling any backend."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "parse_failure"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="replay a trace through one or more policies in simulated time", description=__doc__,
    )
    parser.add_argument("--config", action="append", required=True, metavar="FILE",
                        help="policy YAML file (repeat to compare several)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", metavar="FILE", help="trace: JSONL, Azure or BurstGPT CSV, or a ledger ('-' = stdin)")
    source.add_argument("--from-ledger", metavar="FILE", help="the gateway's usage ledger (SQLite) as the trace")
    parser.add_argument("--trace-format", choices=("auto", "jsonl", "csv", "ledger"), default="auto")
    parser.add_argument("--model", help="model name for requests that carry none (default: auto, else the first alias)")
    parser.add_argument("--fail", action="append", default=[], metavar="BACKEND:RATE[:KIND]",
                        help="fail that share of attempts on BACKEND (KIND: server_error, rate_limited, timeout)")
    parser.add_argument("--scrape-interval-s", type=float, default=2.0,
                        help="how often vLLM/SGLang load is read, as SWITCHYARD_SCRAPE_INTERVAL_S (default 2)")
    parser.add_argument("--slo-ttft-ms", type=float, help="count TTFT above this as an SLO violation (default: each route's slo)")
    parser.add_argument("--slo-tpot-ms", type=float, help="count TPOT above this as an SLO violation (default: each route's slo)")
    parser.add_argument("--span-s", type=float, help="seconds of GPU time to bill (default: the trace's span)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weighted routing and injected failures")
    parser.add_argument("--jobs", type=int, help="policies simulated at once, one process each (default: CPUs)")
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.add_argument("--plot", metavar="FILE.png", help="draw cost and p95 TTFT over time (needs matplotlib)")
    parser.set_defaults(func=run)


def parse_failure(text: str):
    """`BACKEND:RATE[:KIND]` -> (backend, FailureSpec)."""
    from gateway.errors import CliError
    from gateway.simulate.backends import FAILURE_KINDS, FailureSpec

    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise CliError(f"--fail wants BACKEND:RATE[:KIND], got {text!r}")
    try:
        rate = float(parts[1])
    except ValueError:
        raise CliError(f"--fail {text!r}: rate {parts[1]!r} is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise CliError(f"--fail {text!r}: rate must be between 0 and 1")
    kind = parts[2] if len(parts) == 3 else "server_error"
    if kind not in FAILURE_KINDS:
        raise CliError(f"--fail {text!r}: kind must be one of {', '.join(FAILURE_KINDS)}")
    return parts[0], FailureSpec(rate, kind)


def _check(args: argparse.Namespace) -> None:
    from gateway.errors import CliError

    for flag, value in (("--scrape-interval-s", args.scrape_interval_s), ("--slo-ttft-ms", args.slo_ttft_ms),
                        ("--slo-tpot-ms", args.slo_tpot_ms), ("--span-s", args.span_s)):
        if value is not None and value <= 0:
            raise CliError(f"{flag} must be positive, got {value:g}")
    if args.jobs is not None and args.jobs < 1:
        raise CliError(f"--jobs must be at least 1, got {args.jobs}")


def run(args: argparse.Namespace) -> int:
    from gateway.errors import CliError
    from gateway.simulate.report import render_side_by_side
    from gateway.simulate.runner import SimulationOptions
    from gateway.simulate.session import load_policies, simulate_policies
    from planner.errors import PlannerError
    from planner.trace import read_trace
    from policies.errors import PolicyError

    _check(args)
    failures = dict(parse_failure(text) for text in args.fail)
    try:
        policies = load_policies(args.config)
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    options = SimulationOptions(
        scrape_interval_s=args.scrape_interval_s, seed=args.seed, model=args.model, failures=failures,
        slo_ttft_ms=args.slo_ttft_ms, slo_tpot_ms=args.slo_tpot_ms, span_s=args.span_s,
    )
    try:
        trace = read_trace(args.from_ledger, "ledger") if args.from_ledger else read_trace(args.trace, args.trace_format)
        report = simulate_policies(policies, args.config, trace, options, args.jobs)
    except PlannerError as exc:
        raise CliError(str(exc)) from None
    if args.plot:
        from gateway.simulate.plot import render_simulation_plot

        render_simulation_plot(report, args.plot)
    if args.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render_side_by_side(report))
        if args.plot:
            sys.stdout.write(f"plot written to {args.plot}\n")
    return 0
