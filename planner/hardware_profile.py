"""A measured hardware profile (`planner calibrate` writes it; `--profile FILE` reads it back).

The figures are achieved microbenchmark numbers, not datasheet ones. The planner's engine
efficiency factors were fitted against datasheet peaks, so `apply_profile` re-bases a measured
figure to the datasheet-equivalent peak it implies (measured / typical microbenchmark fraction)
before it replaces the catalog figure. On a device that performs like a typical one the estimate
is unchanged; a slower (throttled, shared, mis-configured) device gives proportionally slower
estimates, and the efficiency factors are never applied twice to an already-achieved figure.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import PlannerInputError
from planner.gpu_spec import GpuSpec, SourcedFigure

__all__ = [
    "HardwareProfile",
    "MICROBENCH_HBM_FRACTION",
    "MICROBENCH_GEMM_FRACTION",
    "apply_profile",
    "load_profile",
    "save_profile",
]

MICROBENCH_HBM_FRACTION = 0.90
"""Share of datasheet HBM bandwidth a device-to-device copy achieves on a healthy GPU.

Public H100 SXM measurements of CUDA-event-timed D2D copy and STREAM triad report 3.0-3.1 TB/s
against the 3.35 TB/s datasheet figure (about 0.90-0.92); a coalesced matrix load measured with
Nsight Compute reached 2.8 TB/s (0.84, mikamirai.com/blog/gpu-memory-bandwidth, 2026-03-28).
"""

MICROBENCH_GEMM_FRACTION = 0.75
"""Share of datasheet dense tensor TFLOPs a large square cuBLAS GEMM achieves on Hopper.

Assumption, not a stored measurement: large BF16/FP8 GEMMs through cuBLAS are commonly reported
at 70-80% of the dense datasheet peak on H100/H200 because of power and clock limits. Replace it
when a profile from a reference device is available.
"""


class HardwareProfile(BaseModel):
    """Achieved memory bandwidth and dense GEMM throughput of one device."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_name: str
    backend: Literal["cuda", "cpu"]
    torch_version: str
    hbm_bandwidth_bytes_per_s: float = Field(gt=0, description="device-memory copy bandwidth, bytes read + written per second")
    bf16_tflops: float = Field(gt=0, description="dense BF16 GEMM, 2*n^3 FLOPs per n x n matmul")
    fp8_tflops: float | None = Field(default=None, gt=0, description="dense FP8 (e4m3) GEMM; None where the device has none")
    matmul_size: int = Field(gt=0, description="n of the n x n GEMMs measured")
    copy_bytes: int = Field(gt=0, description="size of the buffer copied for the bandwidth figure")
    iterations: int = Field(gt=0)
    measured_at: datetime


def save_profile(profile: HardwareProfile, path: str) -> None:
    """Write `profile` as indented JSON."""
    try:
        Path(path).write_text(profile.model_dump_json(indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise PlannerInputError(f"cannot write profile {path}: {exc.strerror or exc}") from exc


def load_profile(path: str) -> HardwareProfile:
    """Read a profile written by `planner calibrate`; a bad file is one readable error line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlannerInputError(f"cannot read profile {path}: {exc.strerror or exc}") from exc
    try:
        return HardwareProfile.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise PlannerInputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise PlannerInputError(f"{path}: {field}: {error['msg']}") from exc


def apply_profile(gpu: GpuSpec, profile: HardwareProfile, path: str) -> GpuSpec:
    """`gpu` with its HBM bandwidth and dense BF16 (and FP8, where measured) TFLOPs replaced by `profile`'s.

    Each measured figure is divided by its typical microbenchmark fraction
    (`MICROBENCH_HBM_FRACTION`, `MICROBENCH_GEMM_FRACTION`) so that the engine efficiency
    factors, fitted against datasheet peaks, apply to it unchanged.

    Each replaced figure names the profile file, device and date as its source; figures the
    profile lacks (FP8 on a device without it, FP4, interconnects, memory, price) stay.
    """
    source = (
        f"datasheet-equivalent of figures measured by planner calibrate on {profile.device_name} "
        f"({profile.backend}, torch {profile.torch_version}), {path}"
    )
    date = profile.measured_at.date().isoformat()
    update = {
        "hbm_bandwidth_tb_s": SourcedFigure(
            value=profile.hbm_bandwidth_bytes_per_s / 1e12 / MICROBENCH_HBM_FRACTION, source=source, date=date
        ),
        "bf16_dense_tflops": SourcedFigure(value=profile.bf16_tflops / MICROBENCH_GEMM_FRACTION, source=source, date=date),
    }
    if profile.fp8_tflops is not None:
        update["fp8_dense_tflops"] = SourcedFigure(
            value=profile.fp8_tflops / MICROBENCH_GEMM_FRACTION, source=source, date=date
        )
    return gpu.model_copy(update=update)
