"""`gateway emulate`: run one emulated upstream (vLLM, SGLang, Novita, Fireworks or DeepSeek)."""

from __future__ import annotations

import argparse
import sys

from gateway.errors import CliError

__all__ = ["register"]

PROFILE_NAMES = ("vllm", "sglang", "novita", "fireworks", "deepseek")
FAIL_MODES = ("500", "429", "timeout", "reset", "midstream", "slow", "malformed", "error-body")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("emulate", help="run an emulated OpenAI-compatible upstream for tests and demos")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--profile", choices=PROFILE_NAMES, default="vllm")
    p.add_argument("--model", default=None, help="served model id (default: the profile's)")
    p.add_argument("--ttft-ms", type=float, default=None, help="time to first token (default 20)")
    p.add_argument("--tpot-ms", type=float, default=None, help="time per further output token (default 5)")
    p.add_argument("--planner-model", default=None, help="take timing from the planner for this model")
    p.add_argument("--planner-gpu", default=None)
    p.add_argument("--planner-gpus", type=int, default=None)
    p.add_argument("--max-concurrency", type=int, default=None, help="running requests; the rest queue")
    p.add_argument("--fail-rate", type=float, default=0.0)
    p.add_argument("--fail-mode", choices=FAIL_MODES, default="500")
    p.add_argument("--slow-ms", type=float, default=200.0, help="extra delay per token in fail mode slow")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-model-len", type=int, default=None,
                   help="context window in tokens; longer prompts get vLLM's 400 (default: DeepSeek-V3.2's 163840)")
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=run)


def planner_timing(model: str, gpu: str, gpus: int) -> tuple[float, float, int]:
    """(ttft_ms, tpot_ms, max_concurrency) from the planner's performance model.

    Timing is the planner's estimate for one request on an idle deployment (concurrency 1); the
    emulator's own queue adds the waiting under load. The concurrency bound is the planner's
    largest running batch (per data-parallel rank, times ranks) that fits the KV cache.
    """
    try:
        from planner.errors import PlannerError
        from planner.estimate import EstimateRequest, run_estimate
    except ImportError as exc:
        raise CliError("--planner-* needs the planner's performance model (planner.estimate), which is not installed") from exc
    try:
        report = run_estimate(EstimateRequest(model=model, gpu=gpu, gpus=gpus, concurrency=1))
    except PlannerError as exc:
        raise CliError(f"planner: {exc}") from None
    performance = report.performance
    if performance is None:
        raise CliError(f"the planner has no performance estimate for {model} on {gpus}x {gpu}; use --ttft-ms/--tpot-ms")
    max_batch = performance.max_batch_per_dp_rank * report.deployment.dp
    return performance.ttft_ms, performance.tpot_ms, max(1, max_batch)


def run(args: argparse.Namespace) -> int:
    planner_flags = (args.planner_model, args.planner_gpu, args.planner_gpus)
    if any(v is not None for v in planner_flags):
        if None in planner_flags:
            raise CliError("--planner-model, --planner-gpu and --planner-gpus go together")
        if args.ttft_ms is not None or args.tpot_ms is not None:
            raise CliError("use either --ttft-ms/--tpot-ms or --planner-*, not both")
        ttft_ms, tpot_ms, planned_concurrency = planner_timing(args.planner_model, args.planner_gpu, args.planner_gpus)
        if args.max_concurrency is None:
            args.max_concurrency = planned_concurrency
    else:
        ttft_ms = 20.0 if args.ttft_ms is None else args.ttft_ms
        tpot_ms = 5.0 if args.tpot_ms is None else args.tpot_ms
    if not 0.0 <= args.fail_rate <= 1.0:
        raise CliError(f"--fail-rate must be between 0 and 1, got {args.fail_rate}")
    if ttft_ms < 0 or tpot_ms < 0:
        raise CliError("--ttft-ms and --tpot-ms must not be negative")
    if args.max_concurrency is not None and args.max_concurrency < 1:
        raise CliError("--max-concurrency must be at least 1")
    if args.max_model_len is not None and args.max_model_len < 1:
        raise CliError("--max-model-len must be at least 1")

    import uvicorn

    from backends.emulator import EmulatorConfig, create_app

    config = EmulatorConfig(
        profile=args.profile, model=args.model, ttft_ms=ttft_ms, tpot_ms=tpot_ms,
        max_concurrency=args.max_concurrency, fail_rate=args.fail_rate, fail_mode=args.fail_mode,
        slow_ms=args.slow_ms, seed=args.seed,
    )
    if args.max_model_len is not None:
        config.max_model_len = args.max_model_len
    app = create_app(config)
    sys.stderr.write(
        f"emulator: {args.profile} on http://{args.host}:{args.port}/v1 "
        f"(ttft {ttft_ms:g} ms, tpot {tpot_ms:g} ms, max concurrency {args.max_concurrency or 'unbounded'}, "
        f"fail rate {args.fail_rate:g} mode {args.fail_mode})\n"
    )
    uvicorn.run(
        app, host=args.host, port=args.port, loop="uvloop", http="httptools",
        log_level=args.log_level, access_log=False, lifespan="off",
    )
    return 0
