"""What `prefer: latency` learns from: the state store's decayed latency statistics, on an injected clock,
and the engine deciding on them request after request (no HTTP, no sleeps)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from accounting_fixtures import FakeClock, make_outcome

from gateway.live.latency_stats import RESPONSE_DECAY
from gateway.state.memory import MemoryStateStore
from policies.engine import decide
from policies.features import RequestFeatures
from policies.loader import parse_policy_text

POLICY = """
version: 1
backends:
  slow: {type: vllm, base_url: "http://127.0.0.1:1/v1", model: m, family: deepseek-v3.2}
  fast: {type: vllm, base_url: "http://127.0.0.1:2/v1", model: m, family: deepseek-v3.2}
models: {auto: {}}
routes:
  - {name: r, use: [slow, fast], prefer: latency}
"""


def _stream(store: MemoryStateStore, backend: str, ttft_ms: float, latency_ms: float | None = None,
            tokens: int = 11) -> None:
    store.attempt_started(backend)
    store.record(make_outcome(backend=backend, ttft_ms=ttft_ms, latency_ms=latency_ms or ttft_ms, completion=tokens))


def _answer(store: MemoryStateStore, backend: str, latency_ms: float, tokens: int = 11) -> None:
    store.attempt_started(backend)
    store.record(make_outcome(backend=backend, ttft_ms=None, latency_ms=latency_ms, completion=tokens))


def test_every_stream_feeds_the_posterior_statistics():
    store = MemoryStateStore(clock=FakeClock())
    _stream(store, "a", 100.0, latency_ms=1100.0)
    state = store.snapshot()["a"]
    assert state.ttft_stats.weight == pytest.approx(1.0)
    assert state.ttft_stats.median_ms == pytest.approx(100.0)
    assert state.tpot_stats.median_ms == pytest.approx(100.0)  # 1000 ms over 10 further tokens


def test_a_non_streamed_answer_is_split_with_the_tpot_streams_observed():
    store = MemoryStateStore(clock=FakeClock())
    _answer(store, "a", 2100.0)  # no TPOT known yet: the first token counts as an average one, 2100 / 11
    assert store.snapshot()["a"].ttft_p50_ms == pytest.approx(2100.0 / 11)
    other = MemoryStateStore(clock=FakeClock())
    _stream(other, "a", 100.0, latency_ms=1100.0)  # TPOT 100 ms
    _answer(other, "a", 2100.0)  # 2100 - 10 x 100 = 1100 ms first-token part (2100 unsplit)
    state = other.snapshot()["a"]
    assert state.ttft_p95_ms == 1100.0 and state.tpot_p50_ms == 100.0  # the answer adds no TPOT of its own
    assert state.ttft_stats.median_ms == pytest.approx((1100.0 * 100.0**0.7) ** (1 / 1.7))


def test_figures_decay_with_time_on_the_injected_clock():
    clock = FakeClock()
    store = MemoryStateStore(clock=clock)
    _stream(store, "a", 50.0)
    clock.now_s += 20.0  # one half-life
    assert store.snapshot()["a"].ttft_stats.weight == pytest.approx(0.5)
    clock.now_s += 40.0 + 1e-3  # beyond the window's 60 s: nothing left, the prior again
    assert store.snapshot()["a"].ttft_stats is None


def test_newer_responses_outweigh_older_ones():
    store = MemoryStateStore(clock=FakeClock())
    for _ in range(30):
        _stream(store, "a", 10.0)
    for _ in range(6):
        _stream(store, "a", 400.0)
    stats = store.snapshot()["a"].ttft_stats
    assert stats.weight == pytest.approx((1 - RESPONSE_DECAY**36) / (1 - RESPONSE_DECAY))  # a few responses' worth
    assert stats.median_ms > 150.0  # six slow responses already dominate thirty fast ones


def _simulate(requests: int, ttft_ms: dict[str, float], store: MemoryStateStore, clock: FakeClock,
              rng: random.Random, stream: bool = True) -> list[str]:
    policy = parse_policy_text(POLICY, "latency.yaml")
    features = RequestFeatures(model="auto", max_tokens=8, stream=stream)
    served = []
    for _ in range(requests):
        decision = decide(policy, features, store.snapshot(), rng=rng)
        backend = decision.chain[0]
        clock.now_s += ttft_ms[backend] / 1000
        (_stream if stream else _answer)(store, backend, ttft_ms[backend], tokens=8)
        served.append(backend)
    return served


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("seed", range(5))
def test_the_faster_backend_listed_last_is_found_and_then_keeps_most_traffic(seed, stream):
    clock = FakeClock()
    store = MemoryStateStore(clock=clock)
    served = _simulate(30, {"slow": 150.0, "fast": 10.0}, store, clock, random.Random(seed), stream)
    assert "fast" in served[:10]
    assert Counter(served[-20:])["fast"] >= 18


@pytest.mark.parametrize("seed", range(5))
def test_a_backend_that_slows_down_loses_traffic_and_wins_it_back_after_recovering(seed):
    clock = FakeClock()
    store = MemoryStateStore(clock=clock)
    rng = random.Random(seed)
    _simulate(30, {"slow": 150.0, "fast": 10.0}, store, clock, rng)
    after_slowdown = _simulate(30, {"slow": 150.0, "fast": 400.0}, store, clock, rng)
    assert Counter(after_slowdown)["slow"] >= 21
    recovered = _simulate(100, {"slow": 150.0, "fast": 10.0}, store, clock, rng)  # back at 10 ms, no pause
    assert Counter(recovered[-30:])["fast"] >= 27  # explored now and then, found fast again, traffic back
    clock.now_s += 60.0 + 1e-3  # and after a quiet minute (the window), nothing old is held against anyone
    assert store.snapshot()["fast"].ttft_stats is None


def test_a_known_slow_backend_gets_a_small_share_over_a_long_run():
    clock = FakeClock()
    store = MemoryStateStore(clock=clock)
    served = _simulate(600, {"slow": 150.0, "fast": 10.0}, store, clock, random.Random(11))
    share = Counter(served[30:])["slow"] / len(served[30:])
    assert 0 < share < 0.05, share  # explored now and then (its figures decay), never a large share
