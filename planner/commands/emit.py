"""`planner emit vllm|sglang|compose|k8s`: the launch command of the deployment `planner estimate` sizes.

The deployment is resolved exactly as `planner estimate` resolves it (same flags, same
`--gpus auto` choice, same defaults), so the command always matches the estimate; a deployment
that does not fit is refused with the estimate's reason. `compose` and `k8s` wrap the vLLM
command in a Compose service (infra/compose.gpu.yaml) or Kubernetes manifests (infra/k8s/vllm-*.yaml).
"""

from __future__ import annotations

import argparse
import sys

from planner.commands.options import add_memory_options, gpus_value
from planner.errors import PlannerInputError

__all__ = ["register", "TARGETS"]

TARGETS: tuple[str, ...] = ("vllm", "sglang", "compose", "k8s")
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
    add_memory_options(parser)
    parser.add_argument("--input-len", type=int, default=2048, help="prompt tokens per request, for the fit check")
    parser.add_argument("--output-len", type=int, default=512, help="generated tokens per request, for the fit check")
    parser.add_argument("--hf-model", help="checkpoint to serve, already in --weights format (default: the official one)")
    parser.add_argument("--host", default="0.0.0.0", help="address the server binds (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=8000, help="server port (default 8000)")
    parser.add_argument("--head-address", default="${HEAD_NODE_IP}", help="node 0's address, for multi-node")
    parser.add_argument("--json", action="store_true", help="print the command as JSON")
    parser.add_argument("--out", metavar="DIR", help="compose/k8s: write the manifest into DIR instead of printing it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from planner.catalog import model_source
    from planner.emit import LaunchOptions, emit_command
    from planner.estimate import EstimateRequest, run_estimate

    manifests = args.target in MANIFEST_TARGETS
    if manifests and args.json:
        raise PlannerInputError(f"--json prints a launch command; `emit {args.target}` writes YAML (use --out DIR)")
    if not manifests and args.out:
        raise PlannerInputError(f"--out applies to `emit compose` and `emit k8s`, not `emit {args.target}`")
    engine = "vllm" if manifests else args.target
    head_address = _k8s_head_address() if args.target == "k8s" else args.head_address
    try:
        request = EstimateRequest(
            model=args.model, gpu=args.gpu, gpus=args.gpus, tp=args.tp, pp=args.pp, dp=args.dp, ep=args.ep,
            dp_attention=args.dp_attention, weights=args.weights, kv_dtype=args.kv_dtype,
            max_model_len=args.max_model_len, gpu_memory_utilization=args.gpu_memory_utilization,
            input_len=args.input_len, output_len=args.output_len, engine=engine,
        )  # fmt: skip
        options = LaunchOptions(host=args.host, port=args.port, head_address=head_address)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise PlannerInputError(f"--{field.replace('_', '-')}: {error['msg']}") from exc
    report = run_estimate(request)
    if not report.memory.fits:
        raise PlannerInputError(f"nothing to launch: {report.memory.reason}")
    model_hf_id = args.hf_model or _hf_id(model_source(args.model).get("url", ""), args.model)
    # A checkpoint named with --hf-model is taken to hold the --weights format already.
    checkpoint_dtype = report.deployment.weights_dtype if args.hf_model else None
    command = emit_command(
        engine, report.deployment, model_hf_id, args.model, checkpoint_dtype=checkpoint_dtype, options=options
    )
    if manifests:
        from planner.emit.manifests import write_manifest

        return write_manifest(args.target, command, report, args.model, out_dir=args.out)
    if args.json:
        sys.stdout.write(command.model_dump_json(indent=2) + "\n")
        return 0
    sys.stdout.write(command.shell + "\n")
    for note in command.notes:
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
