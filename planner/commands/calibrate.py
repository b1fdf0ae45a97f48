"""`planner calibrate`: measure this machine and write a hardware profile for `--profile FILE`."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="measure memory bandwidth and GEMM TFLOPs here (needs switchyard[calibrate])",
        description="Measure achieved memory bandwidth and BF16/FP8 GEMM TFLOPs on the local device "
        "(CUDA if present, else CPU) and write a hardware profile JSON for `planner estimate --profile`.",
    )
    parser.add_argument("--out", default="hardware-profile.json", help="profile file to write (default hardware-profile.json)")
    parser.add_argument("--size", type=int, default=4096, help="n of the n x n GEMMs (default 4096)")
    parser.add_argument("--copy-mib", type=int, default=1024, help="MiB copied for the bandwidth figure (default 1024)")
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per figure (default 10)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="device (default auto)")
    parser.add_argument("--json", action="store_true", help="also print the profile as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from planner.calibrate import measure_profile
    from planner.hardware_profile import save_profile

    profile = measure_profile(args.size, args.copy_mib, args.iters, args.device)
    save_profile(profile, args.out)
    if args.json:
        sys.stdout.write(profile.model_dump_json(indent=2) + "\n")
        return 0
    fp8 = f"{profile.fp8_tflops:.1f}" if profile.fp8_tflops else "n/a"
    sys.stdout.write(
        f"{profile.device_name} ({profile.backend}, torch {profile.torch_version}): "
        f"memory {profile.hbm_bandwidth_bytes_per_s / 1e9:.1f} GB/s, "
        f"BF16 {profile.bf16_tflops:.2f} TFLOPs, FP8 {fp8} TFLOPs -> {args.out}\n"
    )
    return 0
