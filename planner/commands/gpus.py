"""`planner gpus`: the GPU catalog (memory, bandwidth, dense TFLOPs, links, price)."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gpus", help="list catalog GPUs", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON, with the source and date of every figure")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from planner.catalog import gpu_names, load_gpu

    gpus = [load_gpu(name) for name in gpu_names()]
    if args.json:
        sys.stdout.write(json.dumps([g.model_dump() for g in gpus], indent=2) + "\n")
        return 0

    def v(figure) -> str:
        return "-" if figure.value is None else f"{figure.value:g}"

    sys.stdout.write(f"{'gpu':<10} {'memory GiB':>10} {'HBM TB/s':>8} {'BF16 TF':>8} {'FP8 TF':>8} {'FP4 TF':>8} "
                     f"{'intra GB/s':>10} {'inter GB/s':>10} {'USD/h':>6}  name\n")
    for g in gpus:
        sys.stdout.write(
            f"{g.name:<10} {g.memory_bytes / 1024**3:>10.1f} {v(g.hbm_bandwidth_tb_s):>8} {v(g.bf16_dense_tflops):>8} "
            f"{v(g.fp8_dense_tflops):>8} {v(g.fp4_dense_tflops):>8} {v(g.intra_node_gb_s):>10} {v(g.inter_node_gb_s):>10} "
            f"{v(g.usd_per_hour):>6}  {g.display_name}\n"
        )
    return 0
