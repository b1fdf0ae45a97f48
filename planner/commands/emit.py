"""`planner emit vllm|sglang|compose|k8s|policy`: the launch command of the deployment `planner estimate` sizes,
or (`policy`) a routing policy for N replicas of it spilling to managed APIs (`planner plan --trace` prints the line).

The deployment is resolved exactly as `planner estimate` resolves it (same flags, same
`--gpus auto` choice, same defaults), so the command always matches the estimate; a deployment
that does not fit is refused with the estimate's reason. `compose` and `k8s` wrap the vLLM
command in a Compose service (infra/compose.gpu.yaml) or Kubernetes manifests (infra/k8s/vllm-*.yaml).
"""

from __future__ import annotations

import argparse
import sys

from planner.commands.options import (
    add_expert_options, add_memory_options, add_prefill_pool_options, gpus_value, prefill_pool_fields,
)
from planner.errors import PlannerInputError

__all__ = ["register", "TARGETS"]

TARGETS: tuple[str, ...] = ("vllm", "sglang", "compose", "k8s", "policy")
MANIFEST_TARGETS: tuple[str, ...] = ("compose", "k8s")
"""Targets that wrap the vLLM command in deployment manifests."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "emit",
        help="print the vLLM or SGLang launch command, or compose/k8s manifests, for a deployment",
        description=__doc__,
    )
    parser.add_argument("target", choices=TARGETS, help="engine to launch, or manifests (vLLM) to write")
    parser.add_argument("--model", default="deepseek-v3.2", help="catalog model name (see `planner models`)")
    parser.add_argument("--gpu", default="h200", help="catalog GPU name (see `planner gpus`)")
    parser.add_argument("--gpus", type=gpus_value, default="auto",
                        help="GPU count, or 'auto' for the smallest deployment that fits (default)")  # fmt: skip
    parser.add_argument("--tp", type=int, help="attention tensor-parallel size")
    parser.add_argument("--pp", type=int, help="pipeline-parallel stages")
    parser.add_argument("--dp", type=int, help="data-parallel ranks")
    parser.add_argument("--ep", type=int, default=1, help="expert-parallel size")
    parser.add_argument("--dp-attention", action="store_true", help="DP ranks share one MoE across tp x dp GPUs")
    add_expert_options(parser)
    parser.add_argument("--role", choices=("aggregated", "prefill", "decode"), default="aggregated",
                        help="launch one pool of a prefill/decode-disaggregated deployment (its KV-transfer flags)")
    parser.add_argument("--mtp", type=int, default=0, metavar="N", help="MTP speculative draft tokens (0-3)")
    parser.add_argument("--engine", choices=("vllm", "sglang"), default="vllm",
                        help="compose/k8s/policy: the engine the manifests or the policy's replicas run (default vllm)")
    add_prefill_pool_options(parser)
    add_memory_options(parser)
    parser.add_argument("--input-len", type=int, default=2048, help="prompt tokens per request, for the fit check")
    parser.add_argument("--output-len", type=int, default=512, help="generated tokens per request, for the fit check")
    parser.add_argument("--hf-model", help="checkpoint to serve, already in --weights format (default: the official one)")
    parser.add_argument("--host", default="0.0.0.0", help="address the server binds (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=8000, help="server port (default 8000)")
    parser.add_argument("--head-address", default="${HEAD_NODE_IP}", help="node 0's address, for multi-node")
    parser.add_argument("--json", action="store_true", help="print the command as JSON")
    parser.add_argument("--out", metavar="DIR", help="compose/k8s: write the manifest into DIR instead of printing it")
    policy = parser.add_argument_group("policy", "`emit policy`: the routing policy of a planned mix")
    policy.add_argument("--replicas", type=int, default=1, help="self-hosted replicas (default 1)")
    policy.add_argument("--max-num-seqs", type=int, help="running sequences per DP rank (the SLO batch)")
    policy.add_argument("--max-waiting", type=int, default=4, help="a replica spills once this many requests queue (default 4)")
    policy.add_argument("--managed", default="novita", help="managed providers to spill to, comma-separated")
    policy.add_argument("--ttft-p95-ms", type=float, help="the route's SLO")
    policy.add_argument("--gpu-hourly-usd", type=float, help="USD per GPU-hour (default: the catalog's price)")
    policy.add_argument("--prices", dest="prices_path", metavar="FILE",
                        help="YAML file of managed prices (as planner plan's); written into the policy as price:")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from planner.catalog import model_source

    if args.target == "policy":
        return _run_policy(args)
    manifests = args.target in MANIFEST_TARGETS
    if manifests and args.json:
        raise PlannerInputError(f"--json prints a launch command; `emit {args.target}` writes YAML (use --out DIR)")
    if not manifests and args.out:
        raise PlannerInputError(f"--out applies to `emit compose` and `emit k8s`, not `emit {args.target}`")
    engine = args.engine if manifests else args.target
    if args.target == "compose" and engine != "vllm":
        raise PlannerInputError("`emit compose` runs vLLM; use `emit k8s --engine sglang` or `emit sglang`")
    prefill_pool = prefill_pool_fields(args)
    if prefill_pool is not None and args.role != "aggregated":
        raise PlannerInputError("--prefill-gpus emits both pools; --role emits one: give one or the other")
    if prefill_pool is not None and args.target == "compose":
        raise PlannerInputError("a disaggregated deployment has two pools; compose runs one server (use `emit k8s`)")
    head_address = _k8s_head_address() if args.target == "k8s" else args.head_address
    model_hf_id = args.hf_model or _hf_id(model_source(args.model).get("url", ""), args.model)
    decode_report, decode_command = _resolve(args, engine, model_hf_id, head_address, role=args.role if prefill_pool is None else "decode")
    if prefill_pool is None:
        if manifests:
            from planner.emit.manifests import write_manifest

            return write_manifest(args.target, decode_command, decode_report, args.model, out_dir=args.out)
        return _print(args, decode_command)
    pool_args = argparse.Namespace(**{**vars(args), "gpu": prefill_pool["gpu"] or args.gpu, "gpus": prefill_pool["gpus"],
                                      "tp": prefill_pool["tp"], "pp": None, "dp": prefill_pool["dp"],
                                      "ep": prefill_pool["ep"], "dp_attention": prefill_pool["dp_attention"], "mtp": 0})
    prefill_report, prefill_command = _resolve(pool_args, engine, model_hf_id, head_address, role="prefill")
    instances = (prefill_pool["instances"], args.decode_instances)
    if manifests:
        from planner.emit.manifests import write_pd_manifest

        return write_pd_manifest(prefill_command, prefill_report, decode_command, decode_report, instances, args.model,
                                 out_dir=args.out)
    return _print_pd(args, engine, prefill_command, decode_command, instances)


def _resolve(args: argparse.Namespace, engine: str, model_hf_id: str, head_address: str, role: str):
    """The estimate's deployment for these flags and its launch command (refused when it does not fit)."""
    from pydantic import ValidationError

    from planner.emit import LaunchOptions, emit_command
    from planner.estimate import EstimateRequest, run_estimate

    try:
        request = EstimateRequest(
            model=args.model, gpu=args.gpu, gpus=args.gpus, tp=args.tp, pp=args.pp, dp=args.dp, ep=args.ep,
            dp_attention=args.dp_attention, weights=args.weights, kv_dtype=args.kv_dtype,
            max_model_len=args.max_model_len, gpu_memory_utilization=args.gpu_memory_utilization,
            input_len=args.input_len, output_len=args.output_len, engine=engine, redundant_experts=args.redundant_experts,
            eplb=args.eplb, tbo=args.tbo, mtp=args.mtp,
        )  # fmt: skip
        options = LaunchOptions(host=args.host, port=args.port, head_address=head_address, role=role, mtp=args.mtp)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise PlannerInputError(f"--{field.replace('_', '-')}: {error['msg']}") from exc
    report = run_estimate(request)
    if not report.memory.fits:
        where = f"the {role} pool" if role != "aggregated" else "nothing to launch"
        raise PlannerInputError(f"{where}: {report.memory.reason}")
    # A checkpoint named with --hf-model is taken to hold the --weights format already.
    checkpoint_dtype = report.deployment.weights_dtype if args.hf_model else None
    command = emit_command(engine, report.deployment, model_hf_id, args.model, checkpoint_dtype=checkpoint_dtype,
                           options=options)
    return report, command


def _print(args: argparse.Namespace, command) -> int:
    if args.json:
        sys.stdout.write(command.model_dump_json(indent=2) + "\n")
        return 0
    sys.stdout.write(command.shell + "\n")
    for note in command.notes:
        sys.stderr.write(f"# note: {note}\n")
    return 0


def _run_policy(args: argparse.Namespace) -> int:
    from planner.catalog import load_gpu, model_source
    from planner.emit.policy import render_policy
    from planner.estimate import EstimateRequest, run_estimate
    from planner.prices import managed_prices

    if args.replicas < 1 or (args.max_num_seqs is not None and args.max_num_seqs < 1) or args.max_waiting < 1:
        raise PlannerInputError("--replicas, --max-num-seqs and --max-waiting must be at least 1")
    report = run_estimate(EstimateRequest(
        model=args.model, gpu=args.gpu, gpus=args.gpus, tp=args.tp, pp=args.pp, dp=args.dp, ep=args.ep,
        dp_attention=args.dp_attention, weights=args.weights, kv_dtype=args.kv_dtype, max_model_len=args.max_model_len,
        gpu_memory_utilization=args.gpu_memory_utilization, input_len=args.input_len, output_len=args.output_len,
        engine=args.engine,
    ))
    if not report.memory.fits:
        raise PlannerInputError(f"nothing to plan: {report.memory.reason}")
    prices = {price.provider: price for price in managed_prices(args.model, args.prices_path)}
    wanted = [name.strip() for name in args.managed.split(",") if name.strip()]
    missing = [name for name in wanted if name not in prices]
    if missing:
        raise PlannerInputError(f"--managed {missing[0]}: no price for {args.model} (providers: {', '.join(prices) or 'none'})")
    hourly = args.gpu_hourly_usd if args.gpu_hourly_usd is not None else float(load_gpu(args.gpu).usd_per_hour.value or 0)
    sys.stdout.write(render_policy(
        family=args.model, model_hf_id=args.hf_model or _hf_id(model_source(args.model).get("url", ""), args.model),
        deployment=report.deployment, engine=args.engine, replicas=args.replicas, max_num_seqs=args.max_num_seqs,
        max_waiting=args.max_waiting, managed=[prices[name] for name in wanted], gpu_hourly_usd=hourly,
        ttft_p95_ms=args.ttft_p95_ms, explicit_prices=args.prices_path is not None,
    ))
    return 0


def _print_pd(args: argparse.Namespace, engine: str, prefill, decode, instances: tuple[int, int]) -> int:
    """Both pools' commands, then (SGLang) the router that pairs them."""
    x, y = instances
    router = None
    if engine == "sglang":
        from planner.emit.sglang import router_argv

        router = router_argv([f"http://${{PREFILL_HOST_{i}}}:{args.port}" for i in range(x)],
                             [f"http://${{DECODE_HOST_{i}}}:{args.port}" for i in range(y)], args.host, args.port)
    if args.json:
        import json

        sys.stdout.write(json.dumps({"prefill": prefill.model_dump(), "prefill_instances": x, "decode": decode.model_dump(),
                                     "decode_instances": y, "router": router}, indent=2) + "\n")
        return 0
    from planner.emit.command import shell_join

    parts = [f"# prefill pool: {x} instance(s), each:\n{prefill.shell}", f"# decode pool: {y} instance(s), each:\n{decode.shell}"]
    if router is not None:
        parts.append("# router (set PREFILL_HOST_i / DECODE_HOST_i to the instances' addresses):\n" + shell_join(router))
    sys.stdout.write("\n\n".join(parts) + "\n")
    for note in dict.fromkeys([*prefill.notes, *decode.notes]):
        sys.stderr.write(f"# note: {note}\n")
    return 0


def _k8s_head_address() -> str:
    from planner.emit.k8s import HEAD_ADDRESS

    return HEAD_ADDRESS


def _hf_id(url: str, model: str) -> str:
    """`org/name` from the catalog's `https://huggingface.co/org/name/blob/...` source URL."""
    prefix = "https://huggingface.co/"
    parts = url.removeprefix(prefix).split("/") if url.startswith(prefix) else []
    if len(parts) < 2:
        raise PlannerInputError(f"the catalog does not name a Hugging Face repo for '{model}'; pass --hf-model")
    return f"{parts[0]}/{parts[1]}"
