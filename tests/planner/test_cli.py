"""`planner` end to end in a subprocess: the JSON contract, tables, bad input, and import weight."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from planner.prices import managed_prices

ROOT = Path(__file__).resolve().parents[2]

CONTRACT = {
    "model": {"name", "total_params", "active_params"},
    "deployment": {"gpu", "gpus", "tp", "pp", "dp", "ep", "weights_dtype", "kv_dtype"},
    "memory": {"weights_gib_per_gpu", "kv_bytes_per_token", "kv_cache_gib_per_gpu", "kv_cache_tokens",
               "max_concurrency", "fits", "reason"},
    "performance": {"ttft_ms", "tpot_ms", "prefill_tokens_per_s", "output_tokens_per_s",
                    "output_tokens_per_s_per_gpu", "output_tokens_per_s_per_user"},
    "cost": {"gpu_hourly_usd", "monthly_usd", "usd_per_million_output_tokens", "usd_per_million_input_tokens", "managed"},
}


def planner(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "planner.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin"},
    )


def test_estimate_json_has_every_contract_key():
    result = planner("estimate", "--model", "deepseek-v3.2", "--gpu", "h200", "--gpus", "8", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for section, keys in CONTRACT.items():
        assert keys <= set(report[section]), section
    assert report["model"]["total_params"] == pytest.approx(685.4e9, rel=0.001)
    dep = report["deployment"]  # DeepSeek-V3.2 on one node: the recipes' DP8 + EP8
    assert (dep["tp"], dep["dp"], dep["ep"], dep["dp_attention"]) == (1, 8, 8, True)
    assert report["memory"]["kv_bytes_per_token"] == 61 * 788 and report["memory"]["fits"] is True
    assert {m["provider"] for m in report["cost"]["managed"]} == {"fireworks", "novita"}  # the DeepSeek API serves V4 only


def test_estimate_on_two_h100_says_it_does_not_fit():
    result = planner("estimate", "--gpu", "h100", "--gpus", "2")
    assert result.returncode == 0
    assert "NO: weights need" in result.stdout


def test_gpus_auto_picks_the_smallest_fitting_count():
    result = planner("estimate", "--gpu", "h200", "--json")
    assert json.loads(result.stdout)["deployment"]["gpus"] == 8
    result = planner("estimate", "--gpu", "h100", "--max-model-len", "32768", "--json")
    dep = json.loads(result.stdout)["deployment"]
    assert (dep["gpus"], dep["tp"], dep["pp"]) == (16, 8, 2)


def test_models_and_gpus_list_the_catalog():
    assert "deepseek-v3.2" in planner("models").stdout
    gpus = planner("gpus", "--json")
    assert {g["name"] for g in json.loads(gpus.stdout)} >= {"h100", "h200", "b200"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("estimate", "--model", "nope"), "unknown model 'nope'; valid models:"),
        (("estimate", "--gpu", "tpu9"), "unknown GPU 'tpu9'; valid GPUs:"),
        (("estimate", "--gpus", "8", "--tp", "3"), "--tp 3 does not divide the 128 attention heads"),
        (("estimate", "--gpus", "4", "--tp", "8"), "--tp 8 exceeds --gpus 4"),
        (("estimate", "--input-len", "-5"), "--input-len must be between 1 and"),
        (("estimate", "--output-len", "99999999999"), "--output-len must be between 1 and"),
        (("estimate", "--gpus", "zero"), "expected a GPU count or 'auto'"),
        (("estimate", "--tp", "8"), "--gpus auto chooses the parallelism itself"),
        (("estimate", "--concurrency", "4", "--rps", "2"), "not allowed with argument"),
        (("estimate", "--weights", "fp3"), "invalid choice"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_code_2(args, message):
    result = planner(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_malformed_model_config_names_the_missing_field(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10}))
    result = planner("estimate", "--model-config", str(path), "--gpus", "1")
    assert result.returncode == 2 and "missing field 'hidden_size'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_running_an_estimate_never_imports_heavy_packages():
    code = (
        "import sys, io, contextlib, planner.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    planner.cli.main(['estimate', '--json'])\n"
        "print([m for m in ('litellm', 'torch', 'fastapi', 'httpx', 'gateway', 'backends', 'policies') if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def _write_profile(path, hbm_bandwidth_bytes_per_s: float, bf16_tflops: float, fp8_tflops: float) -> None:
    path.write_text(json.dumps({
        "device_name": "NVIDIA H200", "backend": "cuda", "torch_version": "2.13.0",
        "hbm_bandwidth_bytes_per_s": hbm_bandwidth_bytes_per_s, "bf16_tflops": bf16_tflops,
        "fp8_tflops": fp8_tflops, "matmul_size": 8192, "copy_bytes": 2**30, "iterations": 10,
        "measured_at": "2026-11-29T12:00:00Z",
    }))  # fmt: skip


def test_profile_feeds_measured_figures_into_the_estimate(tmp_path):
    args = ("estimate", "--gpu", "h200", "--gpus", "8", "--concurrency", "128", "--json")
    datasheet = json.loads(planner(*args).stdout)["performance"]
    # A device measuring the typical microbenchmark share of the H200 datasheet (4.8 TB/s x 0.90
    # copied; 989.4 / 1978.9 TFLOPs x 0.75 in GEMMs) is a typical H200: the estimate is unchanged.
    typical = tmp_path / "typical.json"
    _write_profile(typical, 4.8e12 * 0.90, 989.4 * 0.75, 1978.9 * 0.75)
    as_typical = json.loads(planner(*args, "--profile", str(typical)).stdout)["performance"]
    assert as_typical["tpot_ms"] == pytest.approx(datasheet["tpot_ms"], rel=1e-3)
    assert as_typical["ttft_ms"] == pytest.approx(datasheet["ttft_ms"], rel=1e-3)
    # Half the bandwidth and compute of a typical device: every step is slower (at a batch big enough
    # for bandwidth and compute, not fixed per-layer costs, to set the step).
    slow = tmp_path / "slow.json"
    _write_profile(slow, 4.8e12 * 0.45, 989.4 * 0.375, 1978.9 * 0.375)
    as_slow = json.loads(planner(*args, "--profile", str(slow)).stdout)["performance"]
    assert as_slow["tpot_ms"] > 1.3 * datasheet["tpot_ms"]
    assert as_slow["ttft_ms"] > 1.3 * datasheet["ttft_ms"]
    bad = planner(*args, "--profile", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and "cannot read profile" in bad.stderr


def test_plan_prints_ranked_rows_and_managed_options():
    result = planner("plan", "--rps", "2", "--gpu", "h200,b200", "--tpot-ms", "60", "--top", "3")
    assert result.returncode == 0, result.stderr
    assert "meet the SLOs" in result.stdout and " 1 " in result.stdout and "managed" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("plan",), "give the traffic: --rps, --tokens-per-day, --trace FILE, --from-ledger FILE, or --break-even"),
        (("plan", "--rps", "1", "--tokens-per-day", "1e9"), "not allowed with argument"),
        (("plan", "--rps", "-1"), "--rps must be positive"),
        (("plan", "--rps", "1", "--gpu", "h100,h200", "--gpu-hourly-usd", "2"), "needs exactly one --gpu"),
        (("plan", "--rps", "1", "--max-model-len", "100"), "shorter than --input-len + --output-len"),
        (("plan", "--rps", "1", "--engine", "tgi"), "unknown engine 'tgi'"),
    ],
)
def test_plan_rejects_contradictory_flags_with_exit_code_2(args, message):
    result = planner(*args)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_gpu_hourly_usd_overrides_the_catalog_price():
    args = ("estimate", "--gpu", "h200", "--gpus", "8", "--json")
    default = json.loads(planner(*args).stdout)["cost"]
    custom = json.loads(planner(*args, "--gpu-hourly-usd", "1.5").stdout)["cost"]
    assert default["gpu_hourly_usd"] == 3.59 and custom["gpu_hourly_usd"] == 1.5
    assert custom["monthly_usd"] == pytest.approx(8 * 1.5 * 730)


def test_rps_above_capacity_is_reported_as_overload():
    report = json.loads(planner("estimate", "--gpus", "8", "--rps", "500", "--json").stdout)
    assert report["performance"]["overloaded"] is True
    assert "exceeds capacity" in report["performance"]["note"]


def test_plan_break_even_prints_decades_and_a_verdict_per_provider():
    result = planner("plan", "--gpu", "h200", "--input-len", "2000", "--output-len", "500", "--tpot-ms", "60",
                     "--ttft-p95-ms", "5000", "--break-even")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:8]] == ["1M", "10M", "100M", "1B", "10B", "100B"]
    providers = {price.provider for price in managed_prices("deepseek-v3.2")}
    verdicts = [line.split()[0] for line in lines if "tokens/day" in line and line.startswith("  ")]
    assert sorted(verdicts) == sorted(providers)  # one per catalog provider


def test_estimate_role_and_prefill_pool_flags():
    decode = json.loads(planner("estimate", "--gpus", "8", "--tp", "1", "--dp", "8", "--ep", "8", "--dp-attention",
                                "--max-model-len", "8192", "--role", "decode", "--concurrency", "256", "--json").stdout)
    assert decode["workload"]["role"] == "decode" and decode["disaggregation"] is None
    both = json.loads(planner("estimate", "--gpus", "8", "--tp", "1", "--dp", "8", "--ep", "8", "--dp-attention",
                              "--max-model-len", "8192", "--prefill-gpus", "8", "--prefill-tp", "8",
                              "--prefill-instances", "2", "--json").stdout)
    assert both["disaggregation"]["ratio"] == "2P1D" and both["disaggregation"]["gpus"] == 24
    bad = planner("estimate", "--prefill-tp", "8")
    assert bad.returncode == 2 and "--prefill-tp needs --prefill-gpus" in bad.stderr
