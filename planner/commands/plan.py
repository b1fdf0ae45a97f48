"""`planner plan`: the cheapest deployments that serve a workload within its latency targets.

With `--trace FILE` (or `--from-ledger FILE`) the workload is real traffic: each candidate
deployment is simulated at 0..N replicas with the rest spilling to the cheapest managed provider
that meets the SLOs, and the cheapest mix is marked (planner.plan_trace)."""

from __future__ import annotations

import argparse
import math
import sys

from planner.commands.options import add_model_options

__all__ = ["register", "run", "render_plan"]


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plan", help="search GPU x count x format x parallelism for the cheapest plan",
                                   description=__doc__)
    add_model_options(parser)
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--rps", type=float, help="requests per second to serve")
    load.add_argument("--tokens-per-day", type=float, help="input + output tokens per day to serve")
    load.add_argument("--trace", metavar="FILE", help="plan for this traffic: JSONL, Azure or BurstGPT CSV, or a ledger")
    load.add_argument("--from-ledger", metavar="FILE", help="plan for the traffic the gateway's ledger (SQLite) recorded")
    load.add_argument("--break-even", action="store_true",
                      help="instead of one volume: the cheapest plan from 1M to 100B tokens/day and the break-even "
                           "with every managed API")
    parser.add_argument("--input-len", type=int, default=2048, help="prompt tokens per request (default 2048)")
    parser.add_argument("--output-len", type=int, default=512, help="generated tokens per request (default 512)")
    parser.add_argument("--ttft-p95-ms", type=float, help="SLO: 95th percentile time to first token")
    parser.add_argument("--tpot-ms", type=float, help="SLO: mean time per output token")
    parser.add_argument("--gpu", dest="gpus", type=_csv, help="GPU types to consider, comma-separated (default: all)")
    parser.add_argument("--weights", type=_csv, default=("bf16", "fp8", "int4", "nvfp4"),
                        help="weight formats to consider, comma-separated")
    parser.add_argument("--engine", dest="engines", type=_csv, default=("vllm", "sglang"),
                        help="engines to consider, comma-separated (vllm, sglang, trtllm)")
    parser.add_argument("--kv-dtype", choices=("auto", "bf16", "fp8"), default="auto")
    parser.add_argument("--max-model-len", type=int, help="context each deployment must admit (default: max(in+out, 8192))")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    parser.add_argument("--gpu-hourly-usd", type=_csv, default=(),
                        help="USD per GPU-hour: one number with a single --gpu, or NAME=USD pairs")
    parser.add_argument("--cache-hit-rate", type=float, default=0.0, help="share of prompt tokens found in the prefix cache: billed at cache-hit prices, not computed by self-hosted prefill")
    parser.add_argument("--prices", dest="prices_path", metavar="FILE", help="YAML file overriding managed prices")
    parser.add_argument("--no-disaggregated", dest="disaggregated", action="store_false",
                        help="only aggregated deployments (default: also prefill/decode-disaggregated ones)")
    parser.add_argument("--max-gpus", type=int, default=144, help="largest instance in GPUs (default 144)")
    parser.add_argument("--top", type=int, default=10, help="rows to show (default 10)")
    parser.add_argument("--candidates", type=int, default=3,
                        help="with --trace: deployments (cheapest at steady state) to simulate (default 3)")
    parser.add_argument("--max-replicas", type=int, default=16, help="with --trace: most replicas tried (default 16)")
    parser.add_argument("--max-waiting", type=int, default=4,
                        help="with --trace: a replica spills once this many requests wait in its queue (default 4)")
    parser.add_argument("--slo-attainment", type=float, default=0.95,
                        help="with --trace: share of requests that must meet the SLOs (default 0.95)")
    parser.add_argument("--plot", metavar="FILE.png", help="with --break-even: draw the monthly cost curves (needs matplotlib)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _hourly(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, float]:
    from planner.errors import PlannerInputError

    prices: dict[str, float] = {}
    for item in args.gpu_hourly_usd:
        name, _, value = item.rpartition("=")
        if not name:
            if len(names) != 1:
                raise PlannerInputError("--gpu-hourly-usd without NAME= needs exactly one --gpu; use NAME=USD pairs")
            name = names[0]
        try:
            prices[name] = float(value)
        except ValueError:
            raise PlannerInputError(f"--gpu-hourly-usd: {value!r} is not a number") from None
        if prices[name] < 0:
            raise PlannerInputError(f"--gpu-hourly-usd for {name} must not be negative")
    return prices


def _check(args: argparse.Namespace) -> None:
    from planner.errors import PlannerInputError
    from planner.estimate import MAX_SEQUENCE_TOKENS

    if args.candidates < 1 or args.max_replicas < 1 or args.max_waiting < 1:
        raise PlannerInputError("--candidates, --max-replicas and --max-waiting must be at least 1")
    if not 0 < args.slo_attainment <= 1:
        raise PlannerInputError(f"--slo-attainment must be in (0, 1], got {args.slo_attainment}")
    for flag, value in (("--input-len", args.input_len), ("--output-len", args.output_len)):
        if not 0 < value <= MAX_SEQUENCE_TOKENS:
            raise PlannerInputError(f"{flag} must be between 1 and {MAX_SEQUENCE_TOKENS:,} tokens, got {value}")
    if args.rps is None and args.tokens_per_day is None and not (args.break_even or args.trace or args.from_ledger):
        raise PlannerInputError(
            "give the traffic: --rps, --tokens-per-day, --trace FILE, --from-ledger FILE, or --break-even for 1M-100B tokens/day")
    if args.plot and not args.break_even:
        raise PlannerInputError("--plot draws the --break-even curves; add --break-even")
    if args.max_gpus < 1:
        raise PlannerInputError(f"--max-gpus must be at least 1, got {args.max_gpus}")
    for flag, value in (("--rps", args.rps), ("--tokens-per-day", args.tokens_per_day),
                        ("--ttft-p95-ms", args.ttft_p95_ms), ("--tpot-ms", args.tpot_ms)):
        if value is not None and value <= 0:
            raise PlannerInputError(f"{flag} must be positive, got {value}")
    if not 0 < args.gpu_memory_utilization <= 1:
        raise PlannerInputError(f"--gpu-memory-utilization must be in (0, 1], got {args.gpu_memory_utilization}")
    if not 0 <= args.cache_hit_rate <= 1:
        raise PlannerInputError(f"--cache-hit-rate must be between 0 and 1, got {args.cache_hit_rate}")
    bad = [w for w in args.weights if w not in ("bf16", "fp8", "int4", "nvfp4")]
    if bad:
        raise PlannerInputError(f"--weights {bad[0]!r}: valid formats are bf16, fp8, int4, nvfp4")
    if args.max_model_len is not None and args.max_model_len < args.input_len + args.output_len:
        raise PlannerInputError(
            f"--max-model-len {args.max_model_len} is shorter than --input-len + --output-len = {args.input_len + args.output_len}")


def run(args: argparse.Namespace) -> int:
    from planner.catalog import gpu_names, load_gpu
    from planner.engine import engine_profile
    from planner.estimate import EstimateRequest, resolve_model
    from planner.prices import managed_prices
    from planner.search import PlanRequest, search

    _check(args)
    spec = resolve_model(EstimateRequest(model=args.model, model_config_path=args.model_config_path))
    names = args.gpus or gpu_names()
    for name in names:
        load_gpu(name)
    for engine in args.engines:
        engine_profile(engine)
    if args.trace or args.from_ledger:
        return _run_trace(args, spec, tuple(names))
    if args.rps is not None:
        rps = args.rps
    elif args.tokens_per_day is not None:
        rps = args.tokens_per_day / (args.input_len + args.output_len) / 86_400
    else:
        rps = 1.0  # --break-even: per-instance rates do not depend on the volume
    request = PlanRequest(
        input_len=args.input_len, output_len=args.output_len, requests_per_s=rps, ttft_p95_ms=args.ttft_p95_ms,
        tpot_ms=args.tpot_ms, gpus=tuple(names), weights=tuple(args.weights), engines=tuple(args.engines),
        kv_dtype=args.kv_dtype, max_model_len=args.max_model_len, gpu_memory_utilization=args.gpu_memory_utilization,
        gpu_hourly_usd=_hourly(args, tuple(names)), top=args.top, disaggregated=args.disaggregated,
        max_gpus=args.max_gpus, cached_input_tokens=round(args.input_len * args.cache_hit_rate),
    )
    prices = managed_prices(spec.name, args.prices_path)
    if args.break_even:
        from planner.breakeven import break_even

        report = break_even(spec, request, prices, args.cache_hit_rate)
        sys.stdout.write(report.model_dump_json(indent=2) + "\n" if args.json else render_break_even(report))
        if args.plot:
            from planner.plot import render_plot

            render_plot(args.plot, report.cost_curve(), None)
        return 0
    result = search(spec, request, prices, args.cache_hit_rate)
    if args.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render_plan(result))
    return 0


def _run_trace(args: argparse.Namespace, spec, names: tuple[str, ...]) -> int:
    from planner.plan_trace import TracePlanRequest, plan_for_trace
    from planner.prices import managed_prices
    from planner.trace import read_trace

    trace = read_trace(args.from_ledger, "ledger") if args.from_ledger else read_trace(args.trace)
    request = TracePlanRequest(
        ttft_p95_ms=args.ttft_p95_ms, tpot_ms=args.tpot_ms, gpus=names, weights=tuple(args.weights),
        engines=tuple(args.engines), kv_dtype=args.kv_dtype, max_model_len=args.max_model_len,
        gpu_memory_utilization=args.gpu_memory_utilization, gpu_hourly_usd=_hourly(args, names),
        candidates=args.candidates, max_replicas=args.max_replicas, max_waiting=args.max_waiting,
        slo_attainment=args.slo_attainment, prices_path=args.prices_path,
    )
    result = plan_for_trace(spec, trace, request, managed_prices(spec.name, args.prices_path))
    sys.stdout.write(result.model_dump_json(indent=2) + "\n" if args.json else render_trace_plan(result, request))
    return 0


def render_trace_plan(result, request) -> str:
    """The rows of `planner plan --trace`, the cheapest mix meeting the SLO marked with `*`."""
    slos = [f"p95 TTFT {request.ttft_p95_ms:g} ms" for _ in [0] if request.ttft_p95_ms is not None]
    slos += [f"mean TPOT {request.tpot_ms:g} ms" for _ in [0] if request.tpot_ms is not None]
    lines = [
        f"{result.model} for {result.trace}: {result.requests:,} requests over {result.span_s:,.0f} s "
        f"({result.mean_requests_per_s:.3g} req/s mean, {result.peak_requests_per_s:.3g} peak), "
        f"mean {result.mean_input_tokens:,.0f} in / {result.mean_output_tokens:,.0f} out tokens",
        f"spill-over to {result.managed_provider} ({result.managed_model_id}); SLO: {', '.join(slos) or 'none given'}"
        + (f", TTFT met by {request.slo_attainment:.0%} of requests" if request.ttft_p95_ms is not None else ""),
        f"{'':1} {'#':>2} {'mix':<44} {'repl':>4} {'local':>6} {'TTFT ok':>7} {'p95 TTFT':>9} {'TPOT':>6} "
        f"{'GPU $/mo':>10} {'spill $/mo':>10} {'USD/month':>10}",
    ]
    for i, row in enumerate(result.rows):
        d = row.deployment
        mix = "managed only" if d is None else f"{d.gpus} x {d.gpu} {d.layout} {d.weights_dtype} {row.engine}"
        ttft = "-" if row.ttft_p95_ms is None else f"{row.ttft_p95_ms:,.0f}"
        tpot = "-" if row.tpot_mean_ms is None else f"{row.tpot_mean_ms:,.0f}"
        lines.append(
            f"{'*' if row.cheapest else ' '} {i:>2} {mix:<44} {row.replicas:>4} {row.self_hosted_share:>6.0%} "
            f"{row.slo_attainment:>7.1%} {ttft:>9} {tpot:>6} {row.gpu_monthly_usd:>10,.0f} "
            f"{row.managed_monthly_usd:>10,.0f} {row.monthly_usd:>10,.0f}"
        )
    if result.best is not None:
        row = result.rows[result.best]
        if row.replicas:
            d = row.deployment
            lines.append(f"* cheapest mix meeting the SLO: {row.replicas} x ({d.gpus} x {d.gpu} {d.layout} {d.weights_dtype} "
                         f"{row.engine}) + {result.managed_provider}: {row.monthly_usd:,.0f} USD/month")
        else:
            lines.append(f"* cheapest mix meeting the SLO: everything on {result.managed_provider}: "
                         f"{row.monthly_usd:,.0f} USD/month")
    if result.explanation:
        lines.append(result.explanation)
    if result.emit_command:
        lines.append(f"write it as a policy: {result.emit_command}")
    return "\n".join(lines) + "\n"


def render_plan(result) -> str:
    lines = [
        f"{result.model}: {result.requests_per_s:.3g} req/s = {result.tokens_per_day / 1e6:,.0f}M tokens/day; "
        f"searched {result.candidates_searched:,} candidates ({result.aggregated_candidates:,} deployments x engines, "
        f"{result.disaggregated_pairs:,} disaggregated pairs), {result.candidates_fitting:,} fit, "
        f"{result.candidates_meeting_slo:,} meet the SLOs",
        f"{'#':>3} {'GPUs':>5} {'weights':<7} {'engine':<7} {'repl':>4} {'TPOT ms':>8} {'p95 TTFT ms':>11} "
        f"{'USD/month':>11} {'USD/Mtok':>9}  deployment",
    ]
    for i, c in enumerate(result.best, 1):
        d = c.deployment
        label = f"{d.gpus} x {d.gpu} {d.layout}" if c.mode == "aggregated" else c.label
        lines.append(
            f"{i:>3} {c.total_gpus:>5} {d.weights_dtype:<7} {c.engine:<7} {c.replicas:>4} "
            f"{c.tpot_ms:>8.1f} {c.ttft_p95_ms:>11,.0f} {c.monthly_usd:>11,.0f} {c.usd_per_million_tokens:>9.3f}  {label}"
        )
    if result.explanation:
        lines.append(result.explanation)
    for m in result.managed:
        if m.cheaper_than_best_self_hosted:
            lines.append(f"  - use a managed API: {m.provider} ({m.model_id}) {m.monthly_usd:>11,.0f} USD/month, "
                         f"{m.usd_per_million_tokens:.3f} USD/Mtok (latency not modelled)")
    others = [m.provider for m in result.managed if not m.cheaper_than_best_self_hosted]
    if others:
        lines.append(f"  managed APIs dearer than the best plan: {', '.join(others)}")
    return "\n".join(lines) + "\n"


def _si(value: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def render_break_even(report) -> str:
    """One row per decade of traffic, then the break-even with each provider."""
    slo = ", ".join(part for part in (
        f"TPOT <= {report.tpot_ms:g} ms" if report.tpot_ms else "",
        f"p95 TTFT <= {report.ttft_p95_ms:g} ms" if report.ttft_p95_ms else "") if part) or "no latency targets"
    providers = report.providers
    lines = [
        f"{report.model} on {', '.join(report.gpus)} ({', '.join(report.engines)}), {report.input_len} in / "
        f"{report.output_len} out, {slo}, prompt-cache hit rate {report.cache_hit_rate:g}",
        f"{'tokens/day':>10} {'USD/Mtok':>9} {'GPUs':>5}" + "".join(f" {p.provider[:10]:>10}" for p in providers)
        + "  best self-hosted plan",
    ]
    for point in report.frontier:
        if point is None or abs(round(math.log10(point.tokens_per_day)) - math.log10(point.tokens_per_day)) > 1e-6:
            continue
        lines.append(f"{_si(point.tokens_per_day):>10} {point.usd_per_million_tokens:>9.3f} {point.total_gpus:>5}"
                     + "".join(f" {p.usd_per_million_tokens:>10.3f}" for p in providers) + f"  {point.plan} ({point.engine})")
    for p in providers:
        be = p.break_even_tokens_per_day
        verdict = (f"self-hosting is cheaper above {_si(be)} tokens/day" if be
                   else "cheaper than self-hosting up to 100B tokens/day")
        wins = [f.tokens_per_day for f in report.frontier
                if f is not None and (be is None or f.tokens_per_day < be) and f.usd_per_million_tokens < p.usd_per_million_tokens]
        if wins:
            where = (f"at {_si(wins[0])}" if len(wins) == 1
                     else f"at {len(wins)} of the grid's volumes from {_si(min(wins))} to {_si(max(wins))}")
            verdict += f"; below that, also {where}, where whole instances happen to fit the traffic closely"
        lines.append(f"  {p.provider} ({p.model_id}, {p.usd_per_million_tokens:.3f} USD/Mtok): {verdict}")
    return "\n".join(lines) + "\n"
