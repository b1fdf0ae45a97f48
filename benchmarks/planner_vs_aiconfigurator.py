"""The planner side by side with NVIDIA's AIConfigurator on the measurement points both can model.

Usage: python benchmarks/planner_vs_aiconfigurator.py [--venv DIR] [--points ID,ID] [--no-loso] [--jobs N]

AIConfigurator 0.12.0 (PyPI `aiconfigurator`, Apache-2.0) estimates one deployment offline on the CPU
from kernel timings profiled on each GPU (its `systems/data/<gpu>/<op>/<backend>/<version>` tables).
This script installs it into its own virtual environment (default
`$XDG_CACHE_HOME/switchyard/aiconfigurator-0.12.0`, never a project dependency), and for every point of
planner/data/measurements.yaml whose GPU, model and engine AIConfigurator covers runs
`aiconfigurator cli estimate` with the point's deployment and lengths:
- aggregated points: `--estimate-mode agg` at the point's running concurrency per attention-DP rank
  (`--batch-size`, capped at its prompts), `--isl/--osl` the point's lengths;
- decode pools: `--estimate-mode static_gen` at the pool's sequences per rank;
- prefill pools: `--estimate-mode static_ctx` at the batch's prompts per rank (prompt tokens/s per GPU
  from its TTFT);
- MTP points: `--nextn N --nextn-accepted A-1`, A the accepted tokens per step the planner itself uses
  (the point's own figure, else NVIDIA's published table): AIConfigurator has no built-in acceptance.
The planner is shown with its shipped constants (in-sample) and with constants refitted without the
point's own source (leave-one-source-out, as benchmarks/planner_accuracy.py does), each error against
the measurement. Points AIConfigurator cannot model are listed with its reason (system, model or engine
not in its database, or its own error message). It needs ~15 s per point on two cores.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from planner_accuracy import _fit_task  # noqa: E402
from planner_points import DEFAULT_FILE, Point, load_points, point_deployment, predict  # noqa: E402

from planner.engine import engine_profile  # noqa: E402
from planner.speculative import accepted_tokens_per_step  # noqa: E402

AIC_VERSION = "0.12.0"
SYSTEMS = {"h200": "h200_sxm", "b200": "b200_sxm", "h100": "h100_sxm", "a100": "a100_sxm"}
"""Catalog GPUs AIConfigurator 0.12.0 ships profiles for (aiconfigurator_core/systems/*.yaml); it has none
for H20, H800 or MI300X."""
MODELS = {
    "deepseek-v3": "deepseek-ai/DeepSeek-V3", "deepseek-r1": "deepseek-ai/DeepSeek-R1",
    "deepseek-r1-0528": "deepseek-ai/DeepSeek-R1", "deepseek-v3.2": "deepseek-ai/DeepSeek-V3.2",
    "deepseek-v3.2-exp": "deepseek-ai/DeepSeek-V3.2",
}
"""AIConfigurator's bundled configs (aiconfigurator_core/model_configs); R1-0528 and V3.2-Exp share their
architecture with R1 and V3.2."""
METRICS = ("tpot_ms", "output_tokens_per_s_per_gpu", "prefill_tokens_per_s_per_gpu", "ttft_ms")


def default_venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "switchyard" / f"aiconfigurator-{AIC_VERSION}"


def ensure_aiconfigurator(venv: Path) -> Path:
    """The `aiconfigurator` executable of `venv`, installing aiconfigurator==0.12.0 there first if needed."""
    exe = venv / "bin" / "aiconfigurator"
    if exe.exists():
        return exe
    print(f"installing aiconfigurator=={AIC_VERSION} into {venv} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"aiconfigurator=={AIC_VERSION}"], check=True)
    return exe


def aic_arguments(point: Point) -> tuple[list[str] | None, str | None]:
    """(`aiconfigurator cli estimate` arguments, None) for a point it can model, else (None, reason)."""
    if point.gpu not in SYSTEMS:
        return None, f"no {point.gpu} profile in AIConfigurator {AIC_VERSION}"
    if point.model not in MODELS:
        return None, f"model {point.model} not in its configs"
    if point.engine not in ("vllm", "sglang", "trtllm"):
        return None, f"engine {point.engine} is not one of its backends"
    dep = point_deployment(point)
    if dep.pp > 1:
        return None, "pipeline parallelism is not estimated"
    ranks = dep.dp if dep.dp_attention else 1
    args = ["--model-path", MODELS[point.model], "--system", SYSTEMS[point.gpu], "--backend", point.engine,
            "--tp-size", str(dep.tp), "--attention-dp-size", str(ranks),
            "--moe-tp-size", str(dep.moe_tp), "--moe-ep-size", str(dep.ep),
            "--kvcache-quant-mode", "fp8" if point.kv_dtype == "fp8" else "bfloat16"]
    if point.weights == "nvfp4":
        args += ["--gemm-quant-mode", "nvfp4", "--moe-quant-mode", "nvfp4"]
    if point.mtp:  # the same acceptance the planner uses: the point's own, else NVIDIA's published table
        accepted = point.mtp_accepted_tokens or accepted_tokens_per_step(point.mtp)
        args += ["--nextn", str(point.mtp), "--nextn-accepted", f"{accepted - 1:.3f}"]
    if point.role == "prefill":
        batch = max(1, (point.batch_tokens or 16384) // point.input_len)
        return args + ["--estimate-mode", "static_ctx", "--isl", str(point.input_len), "--osl", "2",
                       "--batch-size", str(batch)], None
    concurrency = point.run.concurrency or point.run.requests or 1
    if point.run.requests:
        concurrency = min(concurrency, point.run.requests)
    batch = max(1, round(concurrency / ranks))
    mode = "static_gen" if point.role == "decode" else "agg"
    return args + ["--estimate-mode", mode, "--isl", str(point.input_len), "--osl", str(max(point.output_len, 2)),
                   "--batch-size", str(batch)], None


def run_aiconfigurator(exe: Path, point: Point, args: list[str], timeout_s: float) -> tuple[dict[str, float] | None, str | None]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run([str(exe), "cli", "estimate", *args, "--log-level", "ERROR"], capture_output=True,
                              text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout_s:g} s"
    text = done.stdout + done.stderr
    values = {key: float(value.replace(",", "")) for key, value in re.findall(
        r"^\s*(TTFT|TPOT|tokens/s/gpu):\s+([\d,.]+)", text, flags=re.M)}
    if done.returncode != 0 or "TTFT" not in values:
        lines = [line.strip() for line in text.splitlines() if line.strip() and "eprecat" not in line
                 and not line.strip().startswith("sys.exit")]
        errors = [line for line in lines if "rror" in line]
        return None, ((errors or lines or [f"exit {done.returncode}"])[-1])[:160]
    dep = point_deployment(point)
    if point.role == "prefill":
        batch = max(1, (point.batch_tokens or 16384) // point.input_len)
        ranks = dep.dp if dep.dp_attention else 1
        per_gpu = batch * ranks * point.input_len / (values["TTFT"] / 1e3) / dep.gpus
        return {"prefill_tokens_per_s_per_gpu": per_gpu, "ttft_ms": values["TTFT"]}, None
    out = {"tpot_ms": values.get("TPOT", 0.0), "ttft_ms": values["TTFT"]}
    if "tokens/s/gpu" in values:
        out["output_tokens_per_s_per_gpu"] = values["tokens/s/gpu"]
    return out, None


def _error(predicted: float | None, measured: float) -> float | None:
    return None if predicted is None or predicted <= 0 else (predicted - measured) / measured * 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=default_venv())
    parser.add_argument("--measurements", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--points", help="comma-separated point ids (default: every modelled point)")
    parser.add_argument("--no-loso", action="store_true", help="compare with the shipped constants only")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per AIConfigurator run")
    opts = parser.parse_args()
    points = [p for p in load_points(opts.measurements) if p.skip is None and p.scope == "fit"]
    if opts.points:
        wanted = set(opts.points.split(","))
        points = [p for p in points if p.id in wanted]
    exe = ensure_aiconfigurator(opts.venv)
    loso = {}
    if not opts.no_loso:
        from concurrent.futures import ProcessPoolExecutor

        tasks = sorted({(p.engine, p.source_id, str(opts.measurements)) for p in points})
        with ProcessPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
            for engine, left_out, constants in pool.map(_fit_task, tasks):
                loso[(engine, left_out)] = engine_profile(engine).model_copy(update=constants)
    print(f"{'point':<44} {'metric':<29} {'measured':>10} {'AIC':>10} {'err':>7} {'planner':>10} {'err':>7}"
          + ("" if opts.no_loso else f" {'LOSO':>10} {'err':>7}"))
    both: dict[str, list[float]] = {"aic": [], "shipped": [], "loso": []}
    unsupported: list[str] = []
    for point in points:
        args, reason = aic_arguments(point)
        aic = None
        if args is not None:
            aic, reason = run_aiconfigurator(exe, point, args, opts.timeout)
        if aic is None:
            unsupported.append(f"{point.id}: {reason}")
            continue
        ours = predict(point)
        held = predict(point, loso[(point.engine, point.source_id)]) if loso else {}
        for metric, value in point.measured.items():
            if metric not in METRICS or metric not in aic or metric not in ours:
                continue
            e_aic, e_ours = _error(aic[metric], value), _error(ours[metric], value)
            e_held = _error(held.get(metric), value) if held else None
            if e_aic is None or e_ours is None:
                continue
            line = (f"{point.id:<44} {metric:<29} {value:>10.2f} {aic[metric]:>10.2f} {e_aic:>+6.1f}% "
                    f"{ours[metric]:>10.2f} {e_ours:>+6.1f}%")
            if e_held is not None:
                line += f" {held[metric]:>10.2f} {e_held:>+6.1f}%"
                both["loso"].append(abs(e_held))
            print(line)
            both["aic"].append(abs(e_aic))
            both["shipped"].append(abs(e_ours))
    print()
    print(f"points AIConfigurator {AIC_VERSION} could not model ({len(unsupported)}):")
    for line in unsupported:
        print(f"  {line}")
    print()
    if both["aic"]:
        for label, values in both.items():
            if values:
                print(f"  {label:<8} median |error| {statistics.median(values):5.1f}%  worst {max(values):6.1f}%  "
                      f"over {len(values)} metric values both tools model")
        ours_key = "loso" if both["loso"] else "shipped"
        verdict = statistics.median(both[ours_key]) <= statistics.median(both["aic"])
        print(f"  planner ({ours_key}) median at or below AIConfigurator's: {'yes' if verdict else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
