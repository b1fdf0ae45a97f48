"""`gateway trace generate|replay`: make a synthetic trace (JSONL), or send a trace to a running gateway.

`generate` writes to stdout (or `--out FILE`), so `gateway trace generate ... | gateway simulate
... --trace -` works; `replay` sends each request at its time (`--time-scale` compresses them) and
prints what came back, so a trace can also be recorded in a gateway's ledger.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("trace", help="generate a synthetic trace, or replay one against a gateway",
                                   description=__doc__)
    commands = parser.add_subparsers(dest="trace_command", required=True, parser_class=type(parser))
    _register_generate(commands)
    _register_replay(commands)


def _register_generate(commands: argparse._SubParsersAction) -> None:
    from planner.trace.generate import TraceShape

    d = TraceShape()
    p = commands.add_parser("generate", help="write a synthetic trace as JSONL",
                            description="Seeded arrivals (poisson, diurnal, bursty) and lengths (lognormal, empirical).")
    p.add_argument("--duration-s", type=float, default=d.duration_s, help=f"seconds of traffic (default {d.duration_s:g})")
    p.add_argument("--rps", type=float, default=d.rps, help=f"mean requests per second (default {d.rps:g})")
    p.add_argument("--arrival", choices=("poisson", "diurnal", "bursty"), default=d.arrival)
    p.add_argument("--amplitude", type=float, default=d.amplitude, help="diurnal: peak = rps x (1 + amplitude)")
    p.add_argument("--period-s", type=float, default=d.period_s, help="diurnal: seconds per cycle (default a day)")
    p.add_argument("--burst-factor", type=float, default=d.burst_factor, help="bursty: rate during a burst / base rate")
    p.add_argument("--burst-s", type=float, default=d.burst_s, help="bursty: seconds a burst lasts")
    p.add_argument("--burst-every-s", type=float, default=d.burst_every_s, help="bursty: mean seconds between bursts")
    p.add_argument("--lengths", choices=("lognormal", "empirical"), default=d.lengths)
    p.add_argument("--lengths-from", metavar="FILE", help="empirical: a trace (any format) to draw lengths from")
    p.add_argument("--input-median", type=int, default=d.input_median)
    p.add_argument("--input-sigma", type=float, default=d.input_sigma)
    p.add_argument("--input-max", type=int, default=d.input_max)
    p.add_argument("--output-median", type=int, default=d.output_median)
    p.add_argument("--output-sigma", type=float, default=d.output_sigma)
    p.add_argument("--output-max", type=int, default=d.output_max)
    p.add_argument("--model", default=d.model, help="model name of every request (default auto)")
    p.add_argument("--stream-share", type=float, default=d.stream_share, help="share of streamed requests")
    p.add_argument("--thinking-share", type=float, default=d.thinking_share, help="share asking for thinking")
    p.add_argument("--cached-share", type=float, default=d.cached_share, help="share of each prompt served from cache")
    p.add_argument("--max-tokens", action="store_true", help="give each request max_tokens = its output length")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=run_generate)


def _register_replay(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("replay", help="send a trace's requests to a gateway at their times",
                            description="Each record becomes a chat completion with a prompt of its input_tokens "
                            "and max_tokens = its output_tokens, sent at t x --time-scale seconds.")
    p.add_argument("--trace", required=True, metavar="FILE", help="trace in any format ('-' = stdin)")
    p.add_argument("--url", default="http://127.0.0.1:8080/v1", help="the gateway's /v1 URL")
    p.add_argument("--api-key", default="unused", help="client key to send (Authorization: Bearer ...)")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiply every arrival time (0.5 = twice as fast)")
    p.add_argument("--model", default="auto", help="model name for records that carry none")
    p.add_argument("--seed", type=int, default=0, help="seed of the prompt text")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_replay)


def run_generate(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from gateway.errors import CliError
    from planner.errors import PlannerError
    from planner.trace import TraceShape, generate_trace, read_trace, write_jsonl

    fields = {name: getattr(args, name) for name in TraceShape.model_fields if name != "model"}
    try:
        shape = TraceShape(model=args.model, **fields)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        raise CliError(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}") from None
    if shape.lengths == "empirical" and not args.lengths_from:
        raise CliError("--lengths empirical needs --lengths-from FILE")
    try:
        empirical = read_trace(args.lengths_from) if args.lengths_from else None
    except PlannerError as exc:
        raise CliError(str(exc)) from None
    trace = generate_trace(shape, empirical)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as out:
                count = write_jsonl(trace.records, out)
        except OSError as exc:
            raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        sys.stderr.write(f"wrote {count:,} requests over {trace.span_s:,.0f} s to {args.out}\n")
    else:
        try:
            write_jsonl(trace.records, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # `... | head`: the reader has what it wanted
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def run_replay(args: argparse.Namespace) -> int:
    import asyncio

    from gateway.errors import CliError
    from gateway.simulate.replay import replay_trace
    from planner.errors import PlannerError
    from planner.trace import read_trace

    if args.time_scale <= 0:
        raise CliError(f"--time-scale must be positive, got {args.time_scale:g}")
    try:
        trace = read_trace(args.trace)
    except PlannerError as exc:
        raise CliError(str(exc)) from None
    summary = asyncio.run(replay_trace(trace, args.url, api_key=args.api_key, time_scale=args.time_scale,
                                       default_model=args.model, seed=args.seed))
    if args.json:
        sys.stdout.write(summary.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(summary.render())
    return 0 if summary.failed == 0 else 1
