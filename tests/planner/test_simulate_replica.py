"""The fleet simulator's replica: continuous batching timed by the planner's step model."""

from __future__ import annotations

import dataclasses
import random

import pytest

from planner.batching import Workload, max_batch_per_rank
from planner.errors import PlannerInputError
from planner.scheduler import BenchmarkRun, RunResult, simulate_run
from planner.simulate.deployment_spec import DeploymentSpec
from planner.simulate.events import EventLoop
from planner.simulate.replica import ReplicaRequest, ReplicaSim
from planner.simulate.step_model import bucket_batch, bucket_tokens, replica_timing, step_time_s

V32_TP8 = DeploymentSpec(model="deepseek-v3.2", gpu="h200", gpus=8, tp=8)


class Recorder:
    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.done: dict[int, float] = {}
        self.refused: list[int] = []

    def first_token(self, request: ReplicaRequest, at_s: float) -> None:
        self.first[request.tag] = at_s

    def finished(self, request: ReplicaRequest, at_s: float) -> None:
        self.done[request.tag] = at_s

    def rejected(self, request: ReplicaRequest, at_s: float, reason: str) -> None:
        self.refused.append(request.tag)


def _probe(loop: EventLoop, at_s: float, look):
    """What `look()` returns at simulated time `at_s` (filled in once the loop has run)."""
    seen: list = []
    loop.schedule(at_s, lambda _: seen.append(look()))
    return seen


def _replica(timing=None):
    loop, recorder = EventLoop(), Recorder()
    return loop, recorder, ReplicaSim(timing or replica_timing(V32_TP8), recorder, loop.schedule)


def _planner_run(timing, **run) -> RunResult:
    """The planner's own step-by-step replay (planner.scheduler) of the same benchmark on the same replica."""
    load = Workload(input_len=1000, output_len=300)
    max_batch = max_batch_per_rank(timing.gpu, timing.engine, timing.kv_tokens_per_rank, load)
    return simulate_run(timing.model, timing.gpu, timing.deployment, timing.engine,
                        BenchmarkRun(input_len=1000, output_len=300, **run), max_batch)


def test_a_burst_matches_the_planners_step_by_step_replay():
    timing = replica_timing(V32_TP8)
    loop, recorder, replica = _replica(timing)
    for tag in range(256):
        replica.submit(ReplicaRequest(1000, 300, tag=tag), 0.0)
    makespan = loop.run()
    planner = _planner_run(timing, requests=256)
    mean_ttft = sum(recorder.first.values()) / 256
    mean_tpot = sum((recorder.done[i] - recorder.first[i]) / 299 for i in range(256)) / 256
    assert makespan == pytest.approx(planner.duration_s, rel=0.01)
    assert mean_tpot == pytest.approx(planner.mean_tpot_s, rel=0.02)
    # The planner's replay also charges the API server's intake of each request; the replica does not.
    assert mean_ttft == pytest.approx(planner.mean_ttft_s, rel=0.05)


def test_steady_poisson_load_decodes_at_the_planners_tpot_for_that_rate():
    timing = replica_timing(V32_TP8)
    loop, recorder, replica = _replica(timing)
    rng, t, arrivals = random.Random(1), 0.0, {}
    while t < 600:
        t += rng.expovariate(5.0)
        arrivals[len(arrivals)] = t
        loop.schedule(t, lambda request: replica.submit(request, loop.now), ReplicaRequest(1000, 300, tag=len(arrivals) - 1))
    loop.run()
    tpots = [(recorder.done[i] - recorder.first[i]) / 299 for i in arrivals if arrivals[i] > 60]
    planner = _planner_run(timing, requests=3000, arrival="rate", request_rate=5.0)
    assert sum(tpots) / len(tpots) == pytest.approx(planner.mean_tpot_s, rel=0.05)


def test_requests_beyond_max_num_seqs_wait_and_are_reported_as_waiting():
    timing = replica_timing(V32_TP8.model_copy(update={"max_num_seqs": 4}))
    loop, recorder, replica = _replica(timing)
    for tag in range(10):
        replica.submit(ReplicaRequest(100, 50, tag=tag), 0.0)
    assert (replica.load(0.0).running, replica.load(0.0).waiting) == (0, 10)  # the first step starts after this instant
    seen = _probe(loop, 1e-3, lambda: replica.load(loop.now))
    loop.run()
    assert (seen[0].running, seen[0].waiting) == (4, 6)
    assert len(recorder.done) == 10
    assert recorder.first[4] >= min(recorder.done[i] for i in range(4))  # the fifth started when one finished


def test_kv_cache_bounds_admission_and_a_prompt_larger_than_it_is_rejected():
    timing = dataclasses.replace(replica_timing(V32_TP8), kv_tokens_per_rank=1000)
    loop, recorder, replica = _replica(timing)
    replica.submit(ReplicaRequest(600, 10, tag=0), 0.0)
    replica.submit(ReplicaRequest(600, 10, tag=1), 0.0)  # does not fit next to the first
    replica.submit(ReplicaRequest(5000, 10, tag=2), 0.0)
    seen = _probe(loop, 1e-3, lambda: replica.load(loop.now))
    loop.run()
    assert seen[0].waiting == 2 and seen[0].kv_usage == pytest.approx(0.6)
    assert recorder.first[1] >= recorder.done[0]
    assert recorder.refused == [2] and 2 not in recorder.done


def test_a_full_kv_cache_preempts_the_newest_sequence_and_recomputes_it():
    timing = dataclasses.replace(replica_timing(V32_TP8), kv_tokens_per_rank=1000)
    loop, recorder, replica = _replica(timing)
    replica.submit(ReplicaRequest(400, 300, tag=0), 0.0)
    replica.submit(ReplicaRequest(400, 300, tag=1), 0.0)  # both fit at first; together they outgrow 1,000 tokens
    loop.run()
    assert set(recorder.done) == {0, 1}
    assert recorder.done[1] > recorder.done[0]
    assert replica.load(loop.now).kv_usage == 0.0


def test_cached_prompt_tokens_need_no_prefill_compute():
    slow_loop, slow, slow_replica = _replica()
    fast_loop, fast, fast_replica = _replica()
    slow_replica.submit(ReplicaRequest(30_000, 2, tag=0), 0.0)
    fast_replica.submit(ReplicaRequest(30_000, 2, cached_tokens=29_000, tag=0), 0.0)
    slow_loop.run()
    fast_loop.run()
    assert fast.first[0] < slow.first[0] / 5


def test_cancel_takes_a_request_out_of_the_queue_and_frees_its_slot():
    timing = replica_timing(V32_TP8.model_copy(update={"max_num_seqs": 1}))
    loop, recorder, replica = _replica(timing)
    first, second = ReplicaRequest(100, 500, tag=0), ReplicaRequest(100, 5, tag=1)
    replica.submit(first, 0.0)
    replica.submit(second, 0.0)
    loop.schedule(0.5, lambda _: replica.cancel(first, loop.now))
    loop.run()
    assert 0 not in recorder.done and 1 in recorder.done
    assert recorder.first[1] < recorder.first[0] + 1.0


def test_data_parallel_ranks_share_the_load():
    timing = replica_timing(DeploymentSpec(model="deepseek-v3.2", gpu="h200", gpus=8, tp=1, dp=8, ep=8, dp_attention=True))
    loop, recorder, replica = _replica(timing)
    for tag in range(16):
        replica.submit(ReplicaRequest(500, 20, tag=tag), 0.0)
    seen = _probe(loop, 1e-3, lambda: [rank.running() for rank in replica._ranks])
    loop.run()
    assert seen[0] == [2] * 8
    assert len(recorder.done) == 16


def test_a_deployment_that_does_not_fit_is_refused_with_the_planners_reason():
    with pytest.raises(PlannerInputError, match="does not fit"):
        replica_timing(DeploymentSpec(model="deepseek-v3.2", gpu="h100", gpus=2, tp=2))


@pytest.mark.parametrize(("batch", "bucketed"), [(1, 1), (64, 64), (65, 66), (1000, 1008)])
def test_batches_above_64_are_bucketed_to_about_3_percent(batch, bucketed):
    assert bucket_batch(batch) == bucketed


def test_step_time_is_cached_and_grows_with_batch_and_prefill():
    timing = replica_timing(V32_TP8)
    small, large = step_time_s(timing, 8, 1000), step_time_s(timing, 256, 1000)
    assert 0 < small < large
    assert step_time_s(timing, 8, 1000, 4096, 4096) > small
    assert step_time_s(timing, 0, 0, 4096, 4096) > timing.engine.step_overhead_s
    assert bucket_tokens(1000) in {key[1] for key in timing._step_s}
