"""`gateway simulate`: the policy engine and live state in simulated time, against simulated backends."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gateway.errors import CliError
from gateway.simulate.backends import FailureSpec
from gateway.simulate.runner import SimulationInputError, SimulationOptions, simulate_policy
from gateway.simulate.serving import ServingLogic
from gateway.simulate.session import load_policies, simulate_policies
from planner.trace import Trace, TraceRecord, TraceShape, generate_trace
from policies.loader import parse_policy_text
from tests.conftest import ROOT

TWO_ROUTES = """
version: 1
backends:
  local:
    type: vllm
    base_url: http://127.0.0.1:9/v1
    model: deepseek-ai/DeepSeek-V3.2
    deployment: {model: deepseek-v3.2, gpu: h200, gpus: 8, tp: 8}
    cost: {gpu_hourly_usd: 2.5, gpus: 8, marginal_usd_per_mtok: 0.1}
  managed:
    type: deepseek
    base_url: http://127.0.0.1:9/v1
    api_key: sk-not-used
    model: deepseek-v4-flash
    family: deepseek-v4-flash
    price: {input_usd_per_mtok: 0.28, cached_input_usd_per_mtok: 0.028, output_usd_per_mtok: 0.42}
    simulate: {ttft_ms: 400, tpot_ms: 20}
models:
  local-only: {}
  managed-only: {}
routes:
  - {name: local, when: {model: local-only}, use: [local]}
  - {name: managed, when: {model: managed-only}, use: [managed]}
"""

FALLBACK = """
version: 1
backends:
  first:
    type: novita
    base_url: http://127.0.0.1:9/v1
    model: deepseek/deepseek-v3.2
    price: {input_usd_per_mtok: 0.27, output_usd_per_mtok: 0.40}
    simulate: {ttft_ms: 300, tpot_ms: 10}
  second:
    type: fireworks
    base_url: http://127.0.0.1:9/v1
    model: accounts/fireworks/models/deepseek-v3p1-terminus
    price: {input_usd_per_mtok: 0.56, output_usd_per_mtok: 1.68}
models: {auto: {}}
routes:
  - {name: default, use: [first, second], prefer: order}
"""


def _trace(*records: TraceRecord) -> Trace:
    return Trace(sorted(records, key=lambda r: r.t), "test")


def test_cost_split_matches_a_hand_computation():
    trace = _trace(
        TraceRecord(t=0, model="local-only", input_tokens=1000, output_tokens=100),
        TraceRecord(t=10, model="managed-only", input_tokens=2000, cached_tokens=1500, output_tokens=300),
        TraceRecord(t=50, model="managed-only", input_tokens=10_000, output_tokens=1000),
        TraceRecord(t=100, model="local-only", input_tokens=500, output_tokens=50),
    )
    report = simulate_policy(parse_policy_text(TWO_ROUTES), "two-routes", trace)
    # managed: (uncached x 0.28 + cached x 0.028 + output x 0.42) / 1e6 per request
    managed = ((500 * 0.28 + 1500 * 0.028 + 300 * 0.42) + (10_000 * 0.28 + 1000 * 0.42)) / 1e6
    # self-hosted: 2.5 USD/GPU-hour x 8 GPUs over the trace's 100 s, plus 0.1 USD/Mtok marginal on 1,650 tokens
    self_hosted = 2.5 * 8 * 100 / 3600 + (1000 + 100 + 500 + 50) * 0.1 / 1e6
    assert report.cost_usd.managed == pytest.approx(managed, abs=1e-9)
    assert report.cost_usd.self_hosted == pytest.approx(self_hosted, abs=1e-6)
    assert report.cost_usd.total == pytest.approx(managed + self_hosted, abs=1e-6)
    assert (report.served, report.failed, report.spill_share) == (4, 0, 0.5)
    local, hosted = report.backends["local"], report.backends["managed"]
    assert (local.requests, local.input_tokens, local.output_tokens) == (2, 1500, 150)
    assert (hosted.requests, hosted.input_tokens, hosted.cached_tokens, hosted.output_tokens) == (2, 12_000, 1500, 1300)
    assert hosted.cost_usd == pytest.approx(managed, abs=1e-9)


def test_managed_latency_comes_from_the_simulate_key():
    trace = _trace(TraceRecord(t=0, model="managed-only", input_tokens=100, output_tokens=51))
    report = simulate_policy(parse_policy_text(TWO_ROUTES), "x", trace)
    assert (report.ttft_ms.p50, report.tpot_ms.p50) == (400.0, 20.0)


def test_an_injected_failure_falls_back_and_the_circuit_stops_trying_the_broken_backend():
    trace = Trace([TraceRecord(t=i * 0.5, model="auto", input_tokens=200, output_tokens=20) for i in range(120)], "steady")
    options = SimulationOptions(failures={"first": FailureSpec(1.0)})
    report = simulate_policy(parse_policy_text(FALLBACK), "fallback", trace, options)
    first, second = report.backends["first"], report.backends["second"]
    assert report.failed == 0 and second.requests == 120
    assert first.requests == 0 and first.failed_attempts == first.attempts
    assert 15 <= first.attempts < 40  # the circuit opened after ~15 failures; later only half-open trials
    assert report.ttft_ms.p50 == 1000.0  # second's default TTFT, straight away once the circuit is open
    assert report.ttft_ms.p99 == 1050.0  # before: the failed attempt's 50 ms first


def test_failures_not_in_fallback_on_fail_the_request():
    policy = parse_policy_text(FALLBACK.replace("prefer: order}", "prefer: order}\nfallback: {on: [timeout]}"))
    trace = _trace(TraceRecord(t=0, model="auto", input_tokens=10, output_tokens=2))
    report = simulate_policy(policy, "x", trace, SimulationOptions(failures={"first": FailureSpec(1.0, "rate_limited")}))
    assert (report.served, report.failed, report.failures) == (0, 1, {"rate_limited": 1})


def test_the_shipped_default_keeps_local_full_and_spills_only_under_load():
    policy, = load_policies([str(ROOT / "policies" / "default.yaml")])
    light = generate_trace(TraceShape(duration_s=60, rps=1, seed=1))
    heavy = generate_trace(TraceShape(duration_s=60, rps=40, seed=1))
    quiet = simulate_policy(policy, "default", light)
    busy = simulate_policy(policy, "default", heavy)
    assert quiet.spill_share == 0.0 and quiet.backends["local-v32"].requests == quiet.served
    assert busy.spill_share > 0.5
    assert busy.backends["novita-v32"].requests > 0 and busy.backends["fireworks-terminus"].requests == 0
    assert busy.cost_usd.self_hosted == pytest.approx(quiet.cost_usd.self_hosted * heavy.span_s / light.span_s, rel=1e-5)


def test_scraped_load_reaches_the_snapshot_the_engine_decides_on():
    policy, = load_policies([str(ROOT / "policies" / "default.yaml")])
    clock = [0.0]
    serving = ServingLogic(policy, lambda: clock[0])
    serving.scraped("local-v32", waiting=20, running=100, kv_usage=0.5)
    decision = serving.decide(serving.features(TraceRecord(t=0, model="auto", input_tokens=100, output_tokens=10)))
    assert "local-v32" not in decision.chain
    assert any(c.backend == "local-v32" and "waiting 20 >= max_waiting 16" in c.reason for c in decision.candidates)


def test_trace_shapes_become_the_features_serving_would_read():
    policy, = load_policies([str(ROOT / "policies" / "default.yaml")])
    serving = ServingLogic(policy, lambda: 0.0)
    thinking = serving.features(TraceRecord(t=0, input_tokens=5000, output_tokens=10, thinking=True, stream=True,
                                            tools=True, max_tokens=64))
    assert (thinking.model, thinking.thinking, thinking.stream, thinking.tools, thinking.input_tokens, thinking.max_tokens) == (
        "auto", True, True, True, 5000, 64)
    body = serving.features(TraceRecord(t=0, output_tokens=10, body={"model": "deepseek-reasoner", "messages": [
        {"role": "user", "content": "x" * 700}]}))
    assert body.thinking is True and body.input_tokens == 204  # the gateway's own estimate: 700 / 3.5 + 4


def test_a_self_hosted_backend_without_a_deployment_cannot_be_simulated():
    policy = parse_policy_text(TWO_ROUTES.replace("    deployment: {model: deepseek-v3.2, gpu: h200, gpus: 8, tp: 8}\n", ""))
    with pytest.raises(SimulationInputError, match="backend local \\(vllm\\) has no deployment"):
        simulate_policy(policy, "x", _trace(TraceRecord(t=0, input_tokens=1, output_tokens=1)))


def test_policies_run_side_by_side_in_processes_with_the_same_results_as_in_line():
    policies = load_policies([str(ROOT / "policies" / "default.yaml"), str(ROOT / "policies" / "cost-first.yaml")])
    trace = generate_trace(TraceShape(duration_s=30, rps=20, seed=2))
    forked = simulate_policies(policies, ["a", "b"], trace, SimulationOptions(), jobs=2)
    in_line = simulate_policies(policies, ["a", "b"], trace, SimulationOptions(), jobs=1)
    strip = {"simulated_in_s", "simulated_cpu_s"}
    assert [p.model_dump(exclude=strip) for p in forked.policies] == [p.model_dump(exclude=strip) for p in in_line.policies]


def test_generate_piped_into_simulate_prints_the_json_contract():
    command = (f"{sys.executable} -m gateway.cli trace generate --duration-s 20 --rps 10 --seed 3 | "
               f"{sys.executable} -m gateway.cli simulate --config policies/default.yaml --config policies/cost-first.yaml "
               f"--trace - --json")
    done = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [p["config"] for p in report["policies"]] == ["policies/default.yaml", "policies/cost-first.yaml"]
    for policy in report["policies"]:
        assert {"config", "requests", "served", "failed", "spill_share", "cost_usd", "ttft_ms", "tpot_ms",
                "slo_violations", "backends"} <= set(policy)
        assert set(policy["cost_usd"]) >= {"total", "self_hosted", "managed"}
        assert set(policy["ttft_ms"]) == set(policy["tpot_ms"]) == {"p50", "p95", "p99"}
        for backend in policy["backends"].values():
            assert {"requests", "input_tokens", "output_tokens", "cached_tokens", "cost_usd"} <= set(backend)
        assert policy["requests"] == report["trace"]["requests"] > 100


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"t": 0, "input_tokens": 10, "output_tokens": 5}\n{"t": 1, "output_tokens": 5}\n')
    for args, message in (
        (["--config", "policies/default.yaml", "--trace", str(trace)], f"{trace}:2: give input_tokens"),
        (["--config", "policies/default.yaml", "--trace", str(tmp_path / "none.jsonl")], "cannot read the trace"),
        (["--config", "policies/default.yaml", "--trace", "-", "--fail", "local-v32"], "--fail wants BACKEND:RATE"),
    ):
        done = subprocess.run([sys.executable, "-m", "gateway.cli", "simulate", *args], cwd=ROOT, capture_output=True,
                              text=True, input="", timeout=60)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_plot_without_matplotlib_is_a_clear_one_line_error(monkeypatch):
    from gateway.simulate.plot import INSTALL_HINT, render_simulation_plot

    report = simulate_policies(load_policies([str(ROOT / "policies" / "default.yaml")]), ["d"],
                               generate_trace(TraceShape(duration_s=5, rps=2)), SimulationOptions(), jobs=1)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(CliError, match="needs matplotlib: pip install 'switchyard\\[plot\\]'"):
        render_simulation_plot(report, "x.png")
    assert "\n" not in INSTALL_HINT


def test_plot_draws_cost_and_p95_ttft_over_time(tmp_path):
    pytest.importorskip("matplotlib")
    from gateway.simulate.plot import render_simulation_plot

    policies = load_policies([str(ROOT / "policies" / "default.yaml"), str(ROOT / "policies" / "cost-first.yaml")])
    report = simulate_policies(policies, ["default", "cost-first"], generate_trace(TraceShape(duration_s=60, rps=20)),
                               SimulationOptions(), jobs=1)
    assert len(report.policies[0].timeline) == 60
    assert report.policies[0].timeline[-1].cost_usd == pytest.approx(report.policies[0].cost_usd.total, rel=1e-6)
    render_simulation_plot(report, str(tmp_path / "sim.png"))
    assert (tmp_path / "sim.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("input_tokens", [8, 100, 4097])
def test_replayed_prompts_are_as_long_as_the_trace_says_by_the_emulators_count(input_tokens):
    from backends.emulator.answer import estimate_tokens, prompt_text
    from gateway.simulate.replay import request_body

    record = TraceRecord(t=0, input_tokens=input_tokens, output_tokens=33, stream=True, thinking=False)
    body = request_body(record, 0, default_model="auto")
    assert estimate_tokens(prompt_text(body)) + 4 * len(body["messages"]) + 3 == input_tokens
    assert (body["max_tokens"], body["stream"], body["reasoning_effort"]) == (33, True, "none")
    assert request_body(record, 1, default_model="auto")["messages"] != body["messages"]  # no accidental cache hits


def test_emulator_backends_are_timed_by_their_emulator_settings_as_the_demo_runs_them():
    policy, = load_policies([str(ROOT / "policies" / "demo.yaml")])
    steady = Trace([TraceRecord(t=float(i), model="auto", input_tokens=300, output_tokens=1001) for i in range(12)], "steady")
    report = simulate_policy(policy, "demo", steady, SimulationOptions(scrape_interval_s=0.25))
    local, novita = report.backends["local-v32"], report.backends["novita-v32"]
    assert (local.requests, novita.requests) == (8, 4)  # each local answer takes 120 ms + 1000 x 15 ms; 8 fill it
    assert report.ttft_ms.p50 == 120.0 and report.ttft_ms.p99 == 350.0  # the emulators' ttft_ms: 120 local, 350 novita
    assert report.tpot_ms.p50 == 15.0 and report.tpot_ms.p99 == 20.0
    assert report.cost_usd.self_hosted == pytest.approx(3.6 * 8 * steady.span_s / 3600, abs=1e-6)
