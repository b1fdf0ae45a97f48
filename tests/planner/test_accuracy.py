"""benchmarks/planner_accuracy.py: the shipped constants against every measurement, and the fitter.

The leave-one-source-out run refits every engine a dozen times (minutes); it is the benchmark's job.
These tests run the in-sample part and check that the fitter improves a fit.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_constants_reproduce_the_measurements_in_sample(capsys):
    accuracy = _load("planner_accuracy")
    assert accuracy.run(accuracy.DEFAULT_FILE, loso=False) == 0
    out = capsys.readouterr().out
    medians = {m: float(v) for m, v in re.findall(r"in-sample\s+(\S+)\s+points\s+\d+\s+median \|error\|\s+([\d.]+)%", out)}
    assert set(medians) == {"tpot_ms", "throughput_per_gpu", "ttft_ms"}
    assert medians["tpot_ms"] <= 30 and medians["throughput_per_gpu"] <= 25 and medians["ttft_ms"] <= 30
    assert "skipped:" in out and "(legacy)" in out and "LOSO" not in out


def test_every_point_names_its_source_and_how_its_benchmark_ran():
    points = _load("planner_points").load_points()
    modelled = [p for p in points if not p.skip]
    assert len({p.source_id for p in modelled}) >= 10
    assert all(p.run is not None and p.engine_release and p.measured for p in modelled)


def test_the_fitter_lowers_the_loss_from_its_data_free_prior():
    fit = _load("planner_fit")
    points = [p for p in _load("planner_points").load_points() if p.engine == "trtllm" and not p.skip]
    from planner.engine import engine_profile

    prior = fit.prior_profile(engine_profile("trtllm"))
    fitted, loss = fit.fit_engine(points, engine_profile("trtllm"), sweeps=1, iterations=4)
    assert loss < fit.loss(points, prior, prior)
