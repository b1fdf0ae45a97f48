"""The emulator timed by the planner (`--planner-*`): the simulator's replica, stepping in real time."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from backends.emulator import EmulatorConfig, create_app
from backends.emulator.batched import BatchedEngine
from planner.simulate.deployment_spec import DeploymentSpec
from planner.simulate.events import EventLoop
from planner.simulate.replica import ReplicaRequest, ReplicaSim
from planner.simulate.step_model import replica_timing
from tests.conftest import ROOT

SPEC = DeploymentSpec(model="deepseek-v3.2", gpu="h200", gpus=8, tp=8, max_num_seqs=2)


async def test_requests_queue_beyond_the_batch_cap_and_finish_in_the_simulators_order():
    engine = BatchedEngine(replica_timing(SPEC), time_scale=0.2)
    handles = [engine.submit(300, 40) for _ in range(4)]
    for _ in range(10):  # the first step starts once everything arriving now is in: a loop turn or two later
        await asyncio.sleep(0)
        if engine.load().running:
            break
    load = engine.load()
    assert (load.running, load.waiting) == (2, 2) and load.kv_usage > 0
    await asyncio.gather(*(h.done for h in handles))
    loop, times = EventLoop(), {}

    class Listener:
        def first_token(self, request, at_s): pass
        def finished(self, request, at_s): times[request.tag] = at_s
        def rejected(self, request, at_s, reason): pass

    replica = ReplicaSim(replica_timing(SPEC), Listener(), loop.schedule)
    for tag in range(4):
        replica.submit(ReplicaRequest(300, 40, tag=tag), 0.0)
    loop.run()
    assert times[0] == times[1] < times[2] == times[3]
    assert engine.load().running == 0


async def test_a_client_leaving_frees_its_place_in_the_batch():
    engine = BatchedEngine(replica_timing(SPEC), time_scale=1.0)
    long = [engine.submit(300, 4000) for _ in range(2)]
    waiting = engine.submit(300, 5)
    await asyncio.sleep(0.01)
    assert engine.load().waiting == 1
    long[0].cancel()
    await asyncio.wait_for(waiting.done, 10)
    long[1].cancel()
    assert engine.load().running == 0


async def test_metrics_report_the_replicas_queue_running_count_and_kv_usage():
    app = create_app(EmulatorConfig(profile="vllm", planner=SPEC, time_scale=0.5))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emulator") as client:
        body = {"model": "m", "messages": [{"role": "user", "content": "x" * 2000}], "max_tokens": 300}
        tasks = [asyncio.create_task(client.post("/v1/chat/completions", json=body)) for _ in range(3)]
        for _ in range(1000):  # until the third waits (for ~1.5 s, while the first two decode); a backstop only
            page = (await client.get("/metrics")).text
            if 'vllm:num_requests_waiting{model_name="deepseek-ai/DeepSeek-V3.2",engine="0"} 1.0' in page:
                break
            await asyncio.sleep(0.005)
        assert 'vllm:num_requests_running{model_name="deepseek-ai/DeepSeek-V3.2",engine="0"} 2.0' in page
        answers = await asyncio.gather(*tasks)
    assert [a.json()["usage"]["completion_tokens"] for a in answers] == [300, 300, 300]


@pytest.mark.parametrize(("flags", "message"), [
    (["--planner-gpu", "h900"], "--planner-gpu: unknown GPU 'h900'"),
    (["--planner-gpus", "2", "--planner-gpu", "h100"], "does not fit"),
    (["--time-scale", "0"], "--time-scale must be positive"),
])
def test_bad_planner_flags_are_one_line(flags, message):
    base = {"--planner-model": "deepseek-v3.2", "--planner-gpu": "h200", "--planner-gpus": "8"}
    for flag, value in zip(flags[::2], flags[1::2]):
        base[flag] = value
    args = [part for pair in base.items() for part in pair]
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "emulate", "--port", "9", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
