"""`planner estimate`: memory, speed and cost of one deployment (table, or `--json`)."""

from __future__ import annotations

import argparse
import sys

from planner.commands.options import (
    add_cost_options, add_expert_options, add_memory_options, add_model_options, add_prefill_pool_options,
    add_workload_options, gpus_value, prefill_pool_fields,
)

__all__ = ["register", "run", "render_table"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("estimate", help="memory, throughput, latency and cost of a deployment",
                                   description=__doc__)
    add_model_options(parser)
    parser.add_argument("--gpu", default="h200", help="catalog GPU name (see `planner gpus`)")
    parser.add_argument("--gpus", type=gpus_value, default="auto",
                        help="GPU count, or 'auto' for the smallest deployment that fits (default)")
    parser.add_argument("--tp", type=int, help="attention tensor-parallel size")
    parser.add_argument("--pp", type=int, help="pipeline-parallel stages")
    parser.add_argument("--dp", type=int, help="data-parallel ranks")
    parser.add_argument("--ep", type=int, default=1, help="expert-parallel size")
    parser.add_argument("--dp-attention", action="store_true",
                        help="DP ranks share one MoE across tp x dp GPUs (SGLang --enable-dp-attention)")
    add_expert_options(parser)
    parser.add_argument("--role", choices=("aggregated", "prefill", "decode"), default="aggregated",
                        help="estimate one pool of a prefill/decode-disaggregated deployment (default: aggregated)")
    add_prefill_pool_options(parser)
    add_memory_options(parser)
    add_workload_options(parser)
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=int, help="requests in flight (default: as many as fit)")
    load.add_argument("--rps", type=float, help="arrival rate in requests per second (open loop, with queueing)")
    parser.add_argument("--num-prompts", dest="benchmark_prompts", type=int, metavar="N",
                        help="replay a benchmark of N prompts step by step (with --concurrency clients or --rps)")
    parser.add_argument("--tokens-per-day", type=float, help="traffic for the cost comparison (default: capacity x utilisation)")
    add_cost_options(parser)
    parser.add_argument("--profile", dest="profile_path", metavar="FILE",
                        help="hardware profile JSON from `planner calibrate` (measured bandwidth/TFLOPs)")
    parser.add_argument("--json", action="store_true", help="print the JSON contract instead of a table")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="draw monthly cost vs traffic and throughput per GPU vs per-user speed (needs matplotlib)")
    parser.set_defaults(func=run)


def _request(args: argparse.Namespace):
    from planner.estimate import EstimateRequest

    for flag in ("tp", "pp", "dp", "ep"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            from planner.errors import PlannerInputError

            raise PlannerInputError(f"--{flag} must be at least 1, got {value}")
    fields = {name: getattr(args, name) for name in EstimateRequest.model_fields if hasattr(args, name)}
    fields["prefill_pool"] = prefill_pool_fields(args)
    return EstimateRequest(**fields)


def run(args: argparse.Namespace) -> int:
    from planner.estimate import run_estimate

    request = _request(args)
    report = run_estimate(request)
    if args.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render_table(report))
    if args.plot:
        _plot(request, report, args.plot)
    return 0


def _plot(request, report, path: str) -> None:
    """Monthly cost from 1M to 100B tokens/day of the cheapest plan on this GPU and engine that is at least
    as fast per token as this deployment, against every managed API; and a concurrency sweep of it."""
    from planner.breakeven import break_even
    from planner.estimate import resolve_model, run_estimate
    from planner.errors import PlannerInputError
    from planner.plot import ThroughputCurve, ThroughputPoint, ThroughputSeries, render_plot
    from planner.prices import managed_prices
    from planner.search import PlanRequest

    if report.cost is None or report.performance is None:
        raise PlannerInputError(f"nothing to plot: {report.memory.reason}")
    if report.disaggregation is not None or request.role != "aggregated":
        raise PlannerInputError("--plot draws an aggregated deployment; drop --role and --prefill-*")
    d = report.deployment
    pinned = request.model_copy(update={"gpus": d.gpus, "tp": d.tp, "pp": d.pp, "dp": d.dp, "ep": d.ep,
                                        "dp_attention": d.dp_attention, "rps": None, "benchmark_prompts": None})
    points = []
    concurrency, top = 1, report.performance.max_batch_per_dp_rank * d.dp
    while concurrency <= top:
        perf = run_estimate(pinned.model_copy(update={"concurrency": concurrency})).performance
        points.append(ThroughputPoint(concurrency=concurrency, output_tokens_per_s_per_user=perf.output_tokens_per_s_per_user,
                                      output_tokens_per_s_per_gpu=perf.output_tokens_per_s_per_gpu))
        concurrency *= 2
    label = f"{d.gpus} x {d.gpu} {d.layout}"
    plan = PlanRequest(
        input_len=request.input_len, output_len=request.output_len, requests_per_s=1.0,
        tpot_ms=max(report.performance.tpot_ms, 1e-3), gpus=(d.gpu,), engines=(request.engine,),
        kv_dtype=d.kv_dtype, gpu_memory_utilization=d.gpu_memory_utilization,
        gpu_hourly_usd={d.gpu: report.cost.gpu_hourly_usd},
        cached_input_tokens=round(request.input_len * request.cache_hit_rate),
    )
    spec = resolve_model(request)
    curve = break_even(spec, plan, managed_prices(report.model.name, request.prices_path), request.cache_hit_rate).cost_curve()
    render_plot(path, curve, ThroughputCurve(series=[ThroughputSeries(label=label, points=points)]))


def _gib(value: float) -> str:
    return f"{value:,.1f} GiB"


def render_table(report) -> str:
    """A readable summary of an `EstimateReport`."""
    m, d, mem, perf, cost = report.model, report.deployment, report.memory, report.performance, report.cost
    rows = [
        ("model", f"{m.name} ({m.architecture})"),
        ("parameters", f"{m.total_params / 1e9:,.1f}B total (MTP {m.mtp_params / 1e9:,.1f}B), {m.active_params / 1e9:,.1f}B active per token"),
        ("deployment", f"{d.gpus} x {d.gpu} ({d.nodes} node{'s' if d.nodes > 1 else ''}), {d.layout}"),
        ("formats", f"weights {d.weights_dtype}, KV cache {d.kv_dtype}, max-model-len {d.max_model_len:,}"),
        ("weights per GPU", _gib(mem.weights_gib_per_gpu)),
        ("usable per GPU", f"{_gib(mem.usable_gib_per_gpu)} ({d.gpu_memory_utilization:g} of memory), reserve {_gib(mem.reserve_gib_per_gpu)}"),
        ("KV cache per GPU", _gib(mem.kv_cache_gib_per_gpu)),
        ("KV bytes per token", f"{mem.kv_bytes_per_token:,} (all layers, one copy)"),
        ("KV cache tokens", f"{mem.kv_cache_tokens:,}"),
        ("max concurrency", f"{mem.max_concurrency:,} at {report.workload.input_len:,} in + {report.workload.output_len:,} out"),
        ("fits", "yes" if mem.fits else f"NO: {mem.reason}"),
    ]
    if perf is not None:
        rows += [
            ("load", f"{perf.concurrency:,} concurrent" + (f" ({report.workload.rps:g} req/s)" if report.workload.rps else "") + f", engine {perf.engine}" + (f", MTP {report.workload.mtp}" if report.workload.mtp else "")),
            ("TTFT", f"{perf.ttft_ms:,.0f} ms"),
            ("TPOT", f"{perf.tpot_ms:,.1f} ms ({perf.output_tokens_per_s_per_user:,.1f} tok/s per user)"),
            ("output throughput", f"{perf.output_tokens_per_s:,.0f} tok/s ({perf.output_tokens_per_s_per_gpu:,.0f} per GPU)"),
            ("prefill capacity", f"{perf.prefill_tokens_per_s:,.0f} tok/s"),
        ]
        if perf.note:
            rows.append(("note", perf.note))
    if report.workload.role == "prefill" and perf is not None:
        rows = [r for r in rows if r[0] not in ("load", "TPOT", "output throughput", "prefill capacity")]
        rows.append(("prefill pool", f"{perf.prefill_tokens_per_s:,.0f} prompt tok/s ({perf.prefill_tokens_per_s_per_gpu:,.0f} per GPU), "
                                     f"{perf.max_requests_per_s:,.2f} prompts/s at full load"))
    dis = report.disaggregation
    if dis is not None:
        p, dd = dis.prefill, dis.decode
        rows += [
            ("disaggregated", f"{dis.ratio}: prefill {p.instances} x ({p.deployment.gpus} x {p.deployment.gpu} {p.deployment.layout}), "
                              f"decode {dd.instances} x ({dd.deployment.gpus} x {dd.deployment.gpu} {dd.deployment.layout}), {dis.gpus} GPUs"),
            ("prefill pool", f"{p.prefill_tokens_per_s:,.0f} prompt tok/s at full load, {p.utilization:.0%} used"),
            ("KV hand-off", f"{dis.kv_bytes_per_request / 1e6:,.1f} MB per request, {dis.kv_transfer_ms:,.1f} ms"),
            ("bottleneck", f"{dis.bottleneck} pool (capacity {dis.max_requests_per_s:,.2f} req/s)"),
        ]
    if cost is not None:
        rows += [
            ("GPU price", f"${cost.gpu_hourly_usd:.2f}/GPU-hour"),
            ("monthly cost", f"${cost.monthly_usd:,.0f} (730 h)"),
            ("per 1M tokens", f"${cost.usd_per_million_input_tokens or 0:.3f} input, ${cost.usd_per_million_output_tokens or 0:.3f} output at {cost.utilization:.0%} utilisation"),
        ]
        role = report.workload.role
        if role == "prefill":
            rows[-1] = ("per 1M tokens", f"${cost.usd_per_million_input_tokens or 0:.3f} prompt tokens at {cost.utilization:.0%} utilisation")
        elif role == "decode":
            rows[-1] = ("per 1M tokens", f"${cost.usd_per_million_output_tokens or 0:.3f} output tokens at {cost.utilization:.0%} utilisation")
        if role != "aggregated":
            rows.append(("managed", "not compared: this is one pool; price the whole service with --prefill-gpus (and its --prefill-* layout)"))
        for managed in cost.managed:
            verdict = "self-hosting cheaper" if managed.self_hosting_cheaper else "managed cheaper"
            be = managed.break_even_tokens_per_day
            be_text = f"break-even {be / 1e6:,.0f}M tok/day" + ("" if managed.break_even_reachable else " (beyond this deployment's capacity)") if be else ""
            rows.append((f"managed: {managed.provider}", f"${managed.monthly_usd:,.0f}/month for the same traffic, {verdict}; {be_text}"))
    width = max(len(k) for k, _ in rows)
    return "".join(f"{k:<{width}}  {v}\n" for k, v in rows)
