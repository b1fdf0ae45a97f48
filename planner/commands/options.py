"""CLI options shared by `planner estimate` and `planner plan` (model, GPU, formats, workload, money)."""

from __future__ import annotations

import argparse

from planner.deployment import KV_DTYPES, WEIGHTS_DTYPES

__all__ = ["add_model_options", "add_memory_options", "add_workload_options", "add_cost_options", "gpus_value",
           "add_expert_options", "add_prefill_pool_options", "prefill_pool_fields"]

ENGINE_CHOICES = ("vllm", "sglang", "trtllm", "deepseek")


def gpus_value(text: str) -> int | str:
    """`--gpus`: a positive count or `auto`."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a GPU count or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="deepseek-v3.2", help="catalog model name (see `planner models`)")
    parser.add_argument("--model-config", dest="model_config_path", metavar="PATH",
                        help="any Hugging Face config.json instead of a catalog model")


def add_memory_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", choices=WEIGHTS_DTYPES, help="weight format (default: the checkpoint's own)")
    parser.add_argument("--kv-dtype", choices=("auto", *KV_DTYPES), default="auto",
                        help="KV-cache dtype; auto = fp8 for DSA models (vLLM's fp8_ds_mla), else bf16")
    parser.add_argument("--max-model-len", type=int, help="longest sequence the engine admits (default: the model's)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9,
                        help="fraction of GPU memory the engine may use, vLLM's meaning (default 0.9)")


def add_workload_options(parser: argparse.ArgumentParser, *, default_output: int = 512) -> None:
    parser.add_argument("--input-len", type=int, default=2048, help="prompt tokens per request (default 2048)")
    parser.add_argument("--output-len", type=int, default=default_output, help="generated tokens per request")
    parser.add_argument("--engine", choices=ENGINE_CHOICES, default="vllm", help="serving engine (default vllm)")
    parser.add_argument("--mtp", type=int, default=0, metavar="N", help="MTP speculative draft tokens (0-3)")


def add_cost_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gpu-hourly-usd", type=float, help="USD per GPU-hour (default: the catalog's price)")
    parser.add_argument("--utilization", type=float, default=0.6,
                        help="share of capacity the traffic uses, for cost per token (default 0.6)")
    parser.add_argument("--cache-hit-rate", type=float, default=0.0,
                        help="share of prompt tokens found in the prefix cache: billed at a provider's cache-hit price, and not computed by the self-hosted prefill (default 0)")
    parser.add_argument("--prices", dest="prices_path", metavar="FILE", help="YAML file overriding managed prices")


def add_expert_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redundant-experts", type=int, default=0, metavar="N",
                        help="extra expert copies an EP load balancer places (DeepSeek: 32)")
    parser.add_argument("--eplb", action="store_true", help="expert-parallel load balancing (SGLang/vLLM --enable-eplb)")
    parser.add_argument("--tbo", action="store_true",
                        help="two-batch overlap of all-to-all and compute (SGLang --enable-two-batch-overlap, vLLM --enable-dbo)")


def add_prefill_pool_options(parser: argparse.ArgumentParser) -> None:
    """`--prefill-*`: the prefill pool of a disaggregated deployment; the main flags then describe the decode pool."""
    parser.add_argument("--prefill-gpus", type=int, metavar="N",
                        help="GPUs per prefill instance: estimate a prefill/decode-disaggregated deployment")
    parser.add_argument("--prefill-gpu", help="prefill pool GPU (default: the decode pool's --gpu)")
    parser.add_argument("--prefill-tp", type=int, help="prefill pool attention tensor-parallel size")
    parser.add_argument("--prefill-dp", type=int, help="prefill pool data-parallel ranks")
    parser.add_argument("--prefill-ep", type=int, default=1, help="prefill pool expert-parallel size")
    parser.add_argument("--prefill-dp-attention", action="store_true", help="prefill pool DP ranks share one MoE")
    parser.add_argument("--prefill-instances", type=int, default=1, metavar="X", help="prefill instances (the x of xPyD)")
    parser.add_argument("--decode-instances", type=int, default=1, metavar="Y", help="decode instances (the y of xPyD)")


def prefill_pool_fields(args: argparse.Namespace) -> dict | None:
    """The `prefill_pool` request field from the `--prefill-*` flags (None when no prefill pool is given)."""
    if getattr(args, "prefill_gpus", None) is None:
        for flag in ("prefill_gpu", "prefill_tp", "prefill_dp"):
            if getattr(args, flag, None) is not None:
                from planner.errors import PlannerInputError

                raise PlannerInputError(f"--{flag.replace('_', '-')} needs --prefill-gpus")
        return None
    return {"gpu": args.prefill_gpu, "gpus": args.prefill_gpus, "tp": args.prefill_tp, "dp": args.prefill_dp,
            "ep": args.prefill_ep, "dp_attention": args.prefill_dp_attention, "instances": args.prefill_instances}
