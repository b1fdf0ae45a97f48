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
    p.add_argument("--planner-model", default=None,
                   help="time requests by the planner's continuous-batching model of this model (with --planner-gpu/-gpus)")
    p.add_argument("--planner-gpu", default=None)
    p.add_argument("--planner-gpus", type=int, default=None)
    p.add_argument("--planner-tp", type=int, default=None, help="tensor-parallel size (default: the planner's layout)")
    p.add_argument("--planner-weights", choices=("bf16", "fp8", "int4", "nvfp4"), default=None)
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="multiply every duration (0.5 runs twice as fast; planner steps and --ttft-ms/--tpot-ms alike)")
    p.add_argument("--max-concurrency", type=int, default=None, help="running requests; the rest queue")
    p.add_argument("--fail-rate", type=float, default=0.0)
    p.add_argument("--fail-mode", choices=FAIL_MODES, default="500")
    p.add_argument("--slow-ms", type=float, default=200.0, help="extra delay per token in fail mode slow")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-model-len", type=int, default=None,
                   help="context window in tokens; longer prompts get vLLM's 400 (default: DeepSeek-V3.2's 163840)")
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=run)


def planner_deployment(args: argparse.Namespace):
    """The deployment `--planner-*` describes, checked the way the simulator checks it (it must fit).

    Requests are then timed by planner.simulate.replica, the continuous-batching model
    `gateway simulate` uses: each step lasts the planner's step time for the batch running then,
    requests beyond `max_num_seqs` (`--max-concurrency`, default the engine's) or the KV cache queue,
    and /metrics reports that queue, the running count and the KV usage.
    """
    from pydantic import ValidationError

    from planner.errors import PlannerError
    from planner.simulate.deployment_spec import DeploymentSpec
    from planner.simulate.step_model import replica_timing

    engine = args.profile if args.profile in ("vllm", "sglang") else "vllm"
    try:
        spec = DeploymentSpec(model=args.planner_model, gpu=args.planner_gpu, gpus=args.planner_gpus, tp=args.planner_tp,
                              weights=args.planner_weights, engine=engine, max_num_seqs=args.max_concurrency)
        replica_timing(spec)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        raise CliError(f"--planner-{'-'.join(str(p) for p in error['loc'])}: {str(error['msg']).removeprefix('Value error, ')}") from None
    except PlannerError as exc:
        raise CliError(f"planner: {exc}") from None
    return spec


def run(args: argparse.Namespace) -> int:
    planner_flags = (args.planner_model, args.planner_gpu, args.planner_gpus)
    if not args.time_scale > 0:
        raise CliError(f"--time-scale must be positive, got {args.time_scale:g}")
    deployment = None
    if any(v is not None for v in planner_flags):
        if None in planner_flags:
            raise CliError("--planner-model, --planner-gpu and --planner-gpus go together")
        if args.ttft_ms is not None or args.tpot_ms is not None:
            raise CliError("use either --ttft-ms/--tpot-ms or --planner-*, not both")
        deployment = planner_deployment(args)
        ttft_ms = tpot_ms = 0.0
    else:
        ttft_ms = (20.0 if args.ttft_ms is None else args.ttft_ms) * args.time_scale
        tpot_ms = (5.0 if args.tpot_ms is None else args.tpot_ms) * args.time_scale
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
        max_concurrency=None if deployment is not None else args.max_concurrency, fail_rate=args.fail_rate,
        fail_mode=args.fail_mode, slow_ms=args.slow_ms, seed=args.seed, planner=deployment, time_scale=args.time_scale,
    )
    if args.max_model_len is not None:
        config.max_model_len = args.max_model_len
    app = create_app(config)
    timing = (f"timed by the planner: {deployment.label}, time scale {args.time_scale:g}" if deployment is not None else
              f"ttft {ttft_ms:g} ms, tpot {tpot_ms:g} ms, max concurrency {args.max_concurrency or 'unbounded'}")
    sys.stderr.write(f"emulator: {args.profile} on http://{args.host}:{args.port}/v1 ({timing}, "
                     f"fail rate {args.fail_rate:g} mode {args.fail_mode})\n")
    uvicorn.run(
        app, host=args.host, port=args.port, loop="uvloop", http="httptools",
        log_level=args.log_level, access_log=False, lifespan="off",
    )
    return 0
