"""Run the planner on every public throughput/latency measurement and print measured vs predicted.

Usage: python benchmarks/planner_accuracy.py [--measurements FILE]

The points live in planner/data/measurements.yaml (copied, with sources, from
../shared/data/public-measurements.yaml). Target: median absolute error <= 20% on TPOT and on
per-GPU output throughput, and no such point worse than 50%. TTFT and prefill rows are printed for
information; they are outside the target. Exit status 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from planner.batching import Workload, estimate_performance  # noqa: E402
from planner.catalog import load_gpu, load_model  # noqa: E402
from planner.engine import engine_profile  # noqa: E402
from planner.gpu_spec import SourcedFigure  # noqa: E402
from planner.layout import build_deployment  # noqa: E402
from planner.memory import estimate_memory  # noqa: E402

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "planner" / "data" / "measurements.yaml"
TARGET_METRICS = {"tpot_ms": "tpot_ms", "output_tokens_per_s_per_gpu": "output_tokens_per_s_per_gpu"}
INFO_METRICS = {"ttft_ms": "ttft_ms"}
MEDIAN_TARGET_PCT = 20.0
WORST_TARGET_PCT = 50.0


def predict(point: dict) -> dict[str, float]:
    spec = load_model(point["model"])
    gpu = load_gpu(point["gpu"])
    if "gpu_memory_mib" in point:  # a variant of the catalog GPU, stated in the point's `assumption`
        figure = SourcedFigure(value=point["gpu_memory_mib"], source=point["assumption"], date=point.get("date", "n/a"))
        gpu = gpu.model_copy(update={"memory_mib": figure})
    layout = point["deployment"]
    dep = build_deployment(
        spec, gpu, layout["gpus"], layout.get("tp"), layout.get("pp"), layout.get("dp"),
        ep=layout.get("ep", 1), dp_attention=layout.get("dp_attention", False),
        weights_dtype=point["weights"], kv_dtype=point["kv_dtype"],
        max_model_len=point.get("max_model_len", point["input_len"] + point["output_len"]),
    )
    memory = estimate_memory(spec, gpu, dep, point["input_len"], point["output_len"], point.get("mtp", 0) > 0)
    if not memory.fits:
        raise RuntimeError(f"{point['id']}: planner says it does not fit: {memory.reason}")
    load = Workload(
        input_len=point["input_len"], output_len=point["output_len"], concurrency=point.get("concurrency"),
        rps=point.get("rps"), mtp=point.get("mtp", 0), disaggregated_decode=point.get("disaggregated_decode", False),
        burst=point.get("burst", False),
    )
    perf = estimate_performance(spec, gpu, dep, engine_profile(point["engine"]), load, memory.kv_tokens_per_dp_rank)
    return perf.model_dump()


def run(path: Path) -> int:
    points = yaml.safe_load(path.read_text(encoding="utf-8"))["points"]
    errors: dict[str, list[float]] = {m: [] for m in TARGET_METRICS}
    print(f"{'point':<44} {'metric':<28} {'measured':>10} {'predicted':>10} {'error':>8}")
    for point in points:
        if point.get("skip"):
            print(f"{point['id']:<44} {'skipped: ' + point['skip']}")
            continue
        predicted = predict(point)
        for metric, value in point["measured"].items():
            key = TARGET_METRICS.get(metric) or INFO_METRICS.get(metric)
            if key is None:
                continue
            error = (predicted[key] - value) / value * 100
            tag = "" if metric in TARGET_METRICS else "  (info)"
            print(f"{point['id']:<44} {metric:<28} {value:>10.2f} {predicted[key]:>10.2f} {error:>+7.1f}%{tag}")
            if metric in TARGET_METRICS:
                errors[metric].append(abs(error))
    ok = True
    print()
    for metric, values in errors.items():
        median, worst = statistics.median(values), max(values)
        met = median <= MEDIAN_TARGET_PCT and worst <= WORST_TARGET_PCT
        ok &= met
        print(f"{metric:<28} points {len(values):>2}  median |error| {median:5.1f}%  worst {worst:5.1f}%  "
              f"target (median <= {MEDIAN_TARGET_PCT:g}%, worst <= {WORST_TARGET_PCT:g}%): {'met' if met else 'MISSED'}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measurements", type=Path, default=DEFAULT_FILE)
    return run(parser.parse_args().measurements)


if __name__ == "__main__":
    raise SystemExit(main())
