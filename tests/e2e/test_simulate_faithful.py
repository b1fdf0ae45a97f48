"""`gateway simulate` is faithful: the same two-minute trace through the live gateway, in front of
emulated backends timed by the same planner figures, spills the same share and bills the same.

The live run is compressed in time by TIME_SCALE (0.5: two trace minutes in one wall minute): the
replay sends each request at t x 0.5, the emulated vLLM steps at 0.5 x the planner's step times,
the managed emulator's latency and the gateway's scrape interval are halved too, so the live
gateway sees the trace's load pattern at double speed. The simulation runs at trace time.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.ledger.sqlite_sink import SqliteLedger
from gateway.simulate.replay import replay_trace
from gateway.simulate.runner import SimulationOptions, simulate_policy
from planner.trace import TraceShape, generate_trace
from policies.loader import parse_policy_text

pytestmark = pytest.mark.slow

TIME_SCALE = 0.5
SCRAPE_INTERVAL_S = 2.0  # the gateway's default; the live one scrapes every SCRAPE_INTERVAL_S x TIME_SCALE
TRACE = TraceShape(duration_s=120, rps=5, arrival="diurnal", amplitude=0.75, period_s=120, input_median=400,
                   input_sigma=0.4, output_median=200, output_sigma=0.3, output_max=400, max_tokens=True, seed=17)
"""~580 requests: 1.25 req/s at the trough, 8.75 at the peak; the vLLM (16 at once, ~4.8 s each) holds ~3.4 req/s.
Long answers and few requests keep the replayer, gateway and emulators far from CPU-bound on a shared machine,
so the live timing stays the planner's."""
LOCAL_FLAGS = ["--planner-model", "deepseek-v3.2", "--planner-gpu", "h200", "--planner-gpus", "8", "--planner-tp", "8",
               "--max-concurrency", "16", "--time-scale", str(TIME_SCALE)]
MANAGED_FLAGS = ["--ttft-ms", "300", "--tpot-ms", "10", "--time-scale", str(TIME_SCALE)]


def policy_yaml(local_url: str, managed_url: str) -> str:
    """The vLLM fills first (cost 0) and spills past the 16 requests it runs at once; one managed API takes the rest."""
    return f"""
version: 1
backends:
  local:
    type: vllm
    base_url: {local_url}
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    deployment: {{model: deepseek-v3.2, gpu: h200, gpus: 8, tp: 8, max_num_seqs: 16}}
    cost: {{gpu_hourly_usd: 3.59, gpus: 8}}
    limits: {{max_in_flight: 16}}
  managed:
    type: novita
    base_url: {managed_url}
    api_key: sk-faithful
    model: deepseek/deepseek-v3.2
    family: deepseek-v3.2
    price: {{input_usd_per_mtok: 0.27, output_usd_per_mtok: 0.40}}
    simulate: {{ttft_ms: 300, tpot_ms: 10}}
models:
  auto: {{}}
routes:
  - {{name: default, use: [local, managed], prefer: cost}}
"""


def test_simulated_spill_share_and_managed_cost_agree_with_the_live_gateway(servers):
    trace = generate_trace(TRACE)
    local = servers.emulator("vllm", *LOCAL_FLAGS, name="local")
    managed = servers.emulator("novita", *MANAGED_FLAGS, name="managed")
    yaml_text = policy_yaml(local.v1, managed.v1)
    gateway = servers.gateway(yaml_text, env={"SWITCHYARD_SCRAPE_INTERVAL_S": str(SCRAPE_INTERVAL_S * TIME_SCALE)})

    live = asyncio.run(replay_trace(trace, gateway.v1, time_scale=TIME_SCALE, seed=17))
    ledger = SqliteLedger(servers.directory / f"ledger-{gateway.port}.sqlite3", create=False)
    try:
        answered = [r for r in ledger.records() if r.ok]
    finally:
        ledger.close()
    assert live.failed == 0 and len(answered) == live.requests == len(trace), live
    live_spill = sum(1 for r in answered if r.backend == "managed") / len(answered)
    live_managed_usd = sum(r.cost_usd or 0.0 for r in answered if r.backend == "managed")

    simulated = simulate_policy(parse_policy_text(yaml_text), "faithful", trace,
                                SimulationOptions(scrape_interval_s=SCRAPE_INTERVAL_S))
    print(f"\nfaithfulness, {len(trace)} requests: spill share live {live_spill:.1%} vs simulated "
          f"{simulated.spill_share:.1%}; managed cost live {live_managed_usd:.5f} vs simulated "
          f"{simulated.cost_usd.managed:.5f} USD (replayed in {live.wall_s:.0f} s)")
    assert simulated.served == len(trace)
    assert 0.3 < simulated.spill_share < 0.7  # the trace does spill, and the vLLM does take a large share
    assert abs(live_spill - simulated.spill_share) <= 0.10
    assert live_managed_usd == pytest.approx(simulated.cost_usd.managed, rel=0.10)
