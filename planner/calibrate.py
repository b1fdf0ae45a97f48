"""Measure the local device: achieved memory bandwidth and dense GEMM TFLOPs (BF16, and FP8 where present).

torch is imported only inside `measure_profile`, so the rest of the planner never loads it.

Method:
- bandwidth: `dst.copy_(src)` over a buffer of `copy_bytes`; each copy reads and writes the
  buffer, so bytes moved = 2 x copy_bytes per iteration (STREAM "copy" convention);
- GEMM: `n x n @ n x n` in BF16, 2n^3 FLOPs each; FP8 (e4m3 inputs, BF16 output) through
  `torch._scaled_mm`, on CUDA devices of compute capability 8.9 or newer (Ada, Hopper, Blackwell);
- one warm-up call, then the mean of `iterations` timed calls; CUDA timing brackets the calls
  with `torch.cuda.synchronize()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from planner.errors import PlannerInputError
from planner.hardware_profile import HardwareProfile

__all__ = ["FP8_MIN_CAPABILITY", "measure_profile"]

FP8_MIN_CAPABILITY = (8, 9)
"""FP8 tensor cores arrive with Ada (sm_89); `torch._scaled_mm` needs them."""
INSTALL_HINT = "planner calibrate needs torch: pip install 'switchyard[calibrate]'"


def measure_profile(
    matmul_size: int = 4096,
    copy_mib: int = 1024,
    iterations: int = 10,
    device: str = "auto",
) -> HardwareProfile:
    """Run the measurements on `device` (auto: CUDA if available, else CPU)."""
    if matmul_size < 16 or copy_mib < 1 or iterations < 1:
        raise PlannerInputError("--size must be at least 16, --copy-mib and --iters at least 1")
    try:
        import torch
    except ImportError as exc:
        raise PlannerInputError(INSTALL_HINT) from exc
    backend = _backend(torch, device)
    dev = torch.device(backend)
    copy_bytes = copy_mib * 1024 * 1024
    sync = torch.cuda.synchronize if backend == "cuda" else (lambda: None)

    src = torch.empty(copy_bytes // 4, dtype=torch.float32, device=dev).uniform_()
    dst = torch.empty_like(src)
    copy_s = _mean_seconds(lambda: dst.copy_(src), iterations, sync)
    del src, dst

    n = matmul_size
    a = torch.randn(n, n, device=dev).to(torch.bfloat16)
    b = torch.randn(n, n, device=dev).to(torch.bfloat16)
    bf16_s = _mean_seconds(lambda: torch.matmul(a, b), iterations, sync)
    fp8_s = _fp8_seconds(torch, a, b, iterations, sync) if _has_fp8(torch, backend) else None

    flops = 2.0 * n**3
    return HardwareProfile(
        device_name=torch.cuda.get_device_name(dev) if backend == "cuda" else _cpu_name(),
        backend=backend,
        torch_version=str(torch.__version__),
        hbm_bandwidth_bytes_per_s=2.0 * copy_bytes / copy_s,
        bf16_tflops=flops / bf16_s / 1e12,
        fp8_tflops=flops / fp8_s / 1e12 if fp8_s else None,
        matmul_size=n,
        copy_bytes=copy_bytes,
        iterations=iterations,
        measured_at=datetime.now(timezone.utc),
    )


def _backend(torch: Any, device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise PlannerInputError("--device cuda: torch sees no CUDA device")
    if device not in ("cuda", "cpu"):
        raise PlannerInputError(f"--device must be auto, cuda or cpu, not '{device}'")
    return device


def _has_fp8(torch: Any, backend: str) -> bool:
    return (
        backend == "cuda"
        and hasattr(torch, "_scaled_mm")
        and hasattr(torch, "float8_e4m3fn")
        and torch.cuda.get_device_capability() >= FP8_MIN_CAPABILITY
    )


def _fp8_seconds(torch: Any, a: Any, b: Any, iterations: int, sync: Callable[[], None]) -> float:
    """`_scaled_mm` wants the second operand column-major: transpose a contiguous copy."""
    a8 = a.to(torch.float8_e4m3fn)
    b8 = b.t().contiguous().to(torch.float8_e4m3fn).t()
    one = torch.ones((), device=a.device, dtype=torch.float32)
    return _mean_seconds(
        lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16), iterations, sync
    )


def _mean_seconds(call: Callable[[], object], iterations: int, sync: Callable[[], None]) -> float:
    call()
    sync()
    start = time.perf_counter()
    for _ in range(iterations):
        call()
    sync()
    return max((time.perf_counter() - start) / iterations, 1e-9)


def _cpu_name() -> str:
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"
