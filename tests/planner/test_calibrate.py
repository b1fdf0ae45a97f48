"""`planner calibrate`: CPU measurements with small sizes, the profile file, and the no-torch message.

torch is the optional `calibrate` extra: without it the measuring tests skip, except under
CI=true, where `.ci/run` installs torch==2.13.0 and a missing torch is a failure.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from planner.cli import main
from planner.errors import PlannerInputError
from planner.hardware_profile import load_profile

SMALL = ["--device", "cpu", "--size", "64", "--copy-mib", "1", "--iters", "2"]


@pytest.fixture
def torch():
    try:
        import torch as module
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("torch is missing under CI=true; .ci/run installs torch==2.13.0 for this test")
        pytest.skip("torch not installed (optional extra): pip install 'switchyard[calibrate]' to run")
    return module


def test_cpu_profile_has_positive_bandwidth_and_bf16_tflops_and_no_fp8(torch) -> None:
    from planner.calibrate import measure_profile

    profile = measure_profile(matmul_size=64, copy_mib=1, iterations=2, device="cpu")
    assert profile.backend == "cpu"
    assert profile.torch_version == torch.__version__
    assert profile.hbm_bandwidth_bytes_per_s > 1e6
    assert profile.bf16_tflops > 0
    assert profile.fp8_tflops is None  # torch._scaled_mm FP8 is measured on CUDA sm_89+ only
    assert (profile.matmul_size, profile.copy_bytes, profile.iterations) == (64, 1024 * 1024, 2)


def test_calibrate_writes_a_profile_that_load_profile_reads_back(torch, tmp_path, capsys) -> None:
    out = tmp_path / "profile.json"
    assert main(["calibrate", *SMALL, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    profile = load_profile(str(out))
    assert profile.backend == "cpu" and profile.matmul_size == 64
    assert f"-> {out}" in printed and "FP8 n/a" in printed


def test_without_torch_calibrate_exits_two_with_the_install_hint(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    code = main(["calibrate", *SMALL, "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "planner: error: planner calibrate needs torch: pip install 'switchyard[calibrate]'\n"
    assert not (tmp_path / "p.json").exists()


def test_too_small_sizes_are_rejected_before_measuring(capsys) -> None:
    assert main(["calibrate", "--size", "8", "--out", "/dev/null"]) == 2
    assert "--size must be at least 16" in capsys.readouterr().err


def test_load_profile_names_the_bad_field(tmp_path) -> None:
    path = tmp_path / "profile.json"
    good = {
        "device_name": "NVIDIA H200", "backend": "cuda", "torch_version": "2.13.0",
        "hbm_bandwidth_bytes_per_s": 4.1e12, "bf16_tflops": 700.0, "fp8_tflops": 1300.0,
        "matmul_size": 8192, "copy_bytes": 2**30, "iterations": 10, "measured_at": "2026-11-29T12:00:00Z",
    }  # fmt: skip
    path.write_text(json.dumps(good))
    assert load_profile(str(path)).fp8_tflops == 1300.0
    path.write_text(json.dumps({**good, "bf16_tflops": -1}))
    with pytest.raises(PlannerInputError, match=r"profile.json: bf16_tflops: Input should be greater than 0"):
        load_profile(str(path))
    with pytest.raises(PlannerInputError, match="cannot read profile"):
        load_profile(str(tmp_path / "missing.json"))


def test_apply_profile_rebases_measured_figures_to_datasheet_equivalents_and_names_the_file(tmp_path) -> None:
    from planner.catalog import load_gpu
    from planner.hardware_profile import (
        MICROBENCH_GEMM_FRACTION,
        MICROBENCH_HBM_FRACTION,
        HardwareProfile,
        apply_profile,
    )

    profile = HardwareProfile(
        device_name="NVIDIA H200", backend="cuda", torch_version="2.13.0",
        hbm_bandwidth_bytes_per_s=4.1e12, bf16_tflops=700.0, fp8_tflops=None,
        matmul_size=8192, copy_bytes=2**30, iterations=10, measured_at="2026-11-29T12:00:00Z",
    )  # fmt: skip
    datasheet = load_gpu("h200")
    gpu = apply_profile(datasheet, profile, "h200.json")
    # Efficiency factors are fitted against datasheet peaks, so a measured figure is re-based:
    # 4.1 TB/s copied / 0.90 typical copy share = 4.556 TB/s; 700 TFLOPs / 0.75 = 933.3 TFLOPs.
    assert MICROBENCH_HBM_FRACTION == 0.90 and MICROBENCH_GEMM_FRACTION == 0.75
    assert gpu.hbm_bandwidth_bytes_per_s == pytest.approx(4.1e12 / 0.90)
    assert gpu.dense_flops_per_s("bf16") == pytest.approx(700e12 / 0.75)
    assert gpu.fp8_dense_tflops == datasheet.fp8_dense_tflops  # not measured: the datasheet figure stays
    assert gpu.bf16_dense_tflops.source.startswith("datasheet-equivalent of figures measured by planner calibrate on NVIDIA H200 (cuda, torch 2.13.0), h200.json")
    assert gpu.bf16_dense_tflops.date == "2026-11-29"
