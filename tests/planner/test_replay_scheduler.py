"""Benchmark replay: arrivals through the API server, mixed vs prefill-first steps, waves, metrics."""

from __future__ import annotations

import pytest

from planner.catalog import load_gpu, load_model
from planner.deployment import Deployment
from planner.engine import engine_profile
from planner.scheduler import BenchmarkRun, simulate_run
from planner.step_model import StepShape, decode_step_s, step_time

SPEC, GPU = load_model("deepseek-r1"), load_gpu("h200")
TP8 = Deployment(gpu="h200", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="bf16")
QUIET = {"request_overhead_s": 0.0, "frontend_token_s": 0.0}
VLLM = engine_profile("vllm").model_copy(update=QUIET)
SGLANG = engine_profile("sglang").model_copy(update=QUIET)


def test_one_request_is_one_prefill_step_then_plain_decode_steps():
    run = BenchmarkRun(input_len=1000, output_len=11, requests=1, arrival="closed_loop", concurrency=1)
    result = simulate_run(SPEC, GPU, TP8, VLLM, run, max_batch=64)
    prefill = step_time(SPEC, GPU, TP8, VLLM, StepShape(prefill_tokens=1000, prefill_attended_tokens=500), frontend=False)
    assert result.mean_ttft_s == pytest.approx(prefill.total_s)
    decode = decode_step_s(SPEC, GPU, TP8, VLLM, 1, 1005, frontend=False)
    assert result.mean_tpot_s == pytest.approx(decode, rel=0.02)
    assert result.output_tokens_per_s == pytest.approx(11 / result.duration_s)


def test_api_server_overhead_delays_the_first_token_of_a_lone_request():
    run = BenchmarkRun(input_len=1000, output_len=11, requests=1, arrival="closed_loop", concurrency=1)
    slow = VLLM.model_copy(update={"request_overhead_s": 0.05})
    base = simulate_run(SPEC, GPU, TP8, VLLM, run, 64).mean_ttft_s
    assert simulate_run(SPEC, GPU, TP8, slow, run, 64).mean_ttft_s == pytest.approx(base + 0.05, rel=1e-3)


def test_a_burst_trickles_through_the_api_server():
    run = BenchmarkRun(input_len=200, output_len=20, requests=200, arrival="burst")
    quick = simulate_run(SPEC, GPU, TP8, VLLM, run, 256)
    slow = simulate_run(SPEC, GPU, TP8, VLLM.model_copy(update={"request_overhead_s": 0.02}), run, 256)
    assert slow.mean_ttft_s > quick.mean_ttft_s + 0.02 * 200 / 4  # the k-th waits for k - 1 others


def test_prefill_first_waves_queue_prompts_but_keep_decode_steps_clean():
    """Fixed lengths, closed loop: SGLang prefills the whole wave before it decodes, so TTFT grows with the
    wave and decode steps carry no prompt tokens; vLLM's mixed steps start decoding sooner."""
    run = BenchmarkRun(input_len=3000, output_len=200, requests=64, arrival="closed_loop", concurrency=16)
    mixed = simulate_run(SPEC, GPU, TP8, VLLM, run, 256)
    first = simulate_run(SPEC, GPU, TP8, SGLANG.model_copy(update={k: getattr(VLLM, k) for k in (
        "bandwidth_efficiency", "gemm_efficiency", "attention_efficiency", "layer_overhead_s", "step_overhead_s",
        "seq_overhead_s", "comm_overlap")}), run, 256)
    assert first.mean_ttft_s > mixed.mean_ttft_s
    assert first.mean_tpot_s < mixed.mean_tpot_s


def test_closed_loop_keeps_the_clients_busy_and_rate_runs_spread_arrivals():
    closed = simulate_run(SPEC, GPU, TP8, VLLM, BenchmarkRun(input_len=500, output_len=100, requests=64,
                                                             arrival="closed_loop", concurrency=8), 256)
    assert 6 < closed.mean_running <= 8
    spread = simulate_run(SPEC, GPU, TP8, VLLM, BenchmarkRun(input_len=500, output_len=100, requests=20,
                                                             arrival="rate", request_rate=0.5), 256)
    assert spread.duration_s > 38  # the last prompt is sent at 38 s
    assert spread.mean_running < 5


def test_replay_is_deterministic():
    run = BenchmarkRun(input_len=700, output_len=60, requests=100, arrival="burst")
    a, b = (simulate_run(SPEC, GPU, TP8, engine_profile("sglang"), run, 128) for _ in range(2))
    assert a == b
