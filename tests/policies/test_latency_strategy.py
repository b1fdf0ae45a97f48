"""`prefer: latency` with a seeded rng: Thompson draws over each backend's posterior, bounded exploration,
and what `explain` shows of it."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from policies.decision import DecisionReport
from policies.engine import decide
from policies.features import RequestFeatures
from policies.latency_posterior import LogLatencyStats
from policies.state import BackendState

STREAMED = RequestFeatures(model="auto", max_tokens=100, stream=True)
DRAWS = 4000


def _known(median_ms: float, responses: float) -> BackendState:
    return BackendState(ttft_stats=LogLatencyStats.point(median_ms, responses))


def _firsts(policy, snapshot, seed: int = 1, features: RequestFeatures = STREAMED) -> Counter[str]:
    rng = random.Random(seed)
    return Counter(decide(policy, features, snapshot, rng=rng).chain[0] for _ in range(DRAWS))


@pytest.fixture
def policy(make_policy):
    return make_policy(routes=[{"name": "r", "use": ["local", "novita", "terminus"], "prefer": "latency"}])


def test_a_known_slow_backend_gets_a_small_share(policy):
    firsts = _firsts(policy, {"local": _known(150, 3), "novita": _known(10, 3), "terminus": _known(12, 3)})
    assert firsts["local"] / DRAWS < 0.005  # 15x slower with three responses' evidence: almost never first
    assert firsts["novita"] > firsts["terminus"] > 0.1 * DRAWS  # alike backends share, the faster more


def test_a_stale_slow_backend_is_explored_but_its_share_stays_bounded(policy):
    # its evidence decayed to a fifth of a response: drawn from near the prior, yet the prior is
    # centred on the route's mean figure, so it rarely beats a backend known to be fast
    firsts = _firsts(policy, {"local": _known(150, 0.2), "novita": _known(10, 3), "terminus": _known(150, 3)})
    assert 0 < firsts["local"] / DRAWS < 0.05
    assert firsts["novita"] / DRAWS > 0.9


def test_an_untried_backend_is_tried_soon_among_alike_backends(policy):
    firsts = _firsts(policy, {"local": _known(100, 3), "novita": _known(100, 3)})
    assert 0.15 < firsts["terminus"] / DRAWS < 0.5  # untried: no better than an even chance, but tried


def test_with_nothing_observed_the_order_is_random_not_the_use_list(policy):
    firsts = _firsts(policy, {})
    assert all(0.25 < firsts[name] / DRAWS < 0.42 for name in ("local", "novita", "terminus"))


def test_the_same_seed_gives_the_same_decision(policy):
    snapshot = {"local": _known(100, 1), "novita": _known(90, 1)}
    chains = [decide(policy, STREAMED, snapshot, rng=random.Random(9)).chain for _ in range(3)]
    assert chains[0] == chains[1] == chains[2]


def _first_exploration(policy, snapshot):
    rng = random.Random(4)
    for _ in range(500):
        decision = decide(policy, STREAMED, snapshot, rng=rng)
        if decision.exploration:
            return decision
    raise AssertionError("no exploration pick in 500 decisions")


def test_explain_shows_each_candidates_figure_and_the_exploration_pick(policy):
    snapshot = {"local": _known(100, 3), "novita": _known(80, 3)}  # terminus untried
    decision = _first_exploration(policy, snapshot)
    report = DecisionReport.from_decision(decision)
    assert report.exploration is True
    first, *rest = report.candidates
    assert first.backend == decision.chain[0] and first.exploration is True
    assert "exploration pick" in first.reason
    assert first.latency_ms > min(c.latency_ms for c in report.candidates)  # not the greedy choice
    assert first.sampled_latency_ms <= min(c.sampled_latency_ms for c in rest)  # ranked on its draw
    assert not any(c.exploration for c in rest)
    expected = {c.backend: c.latency_ms for c in report.candidates}
    assert expected["novita"] == pytest.approx(80 ** (3 / 3.5) * (100 * 80) ** (0.25 / 3.5), rel=0.01)  # shrunk to the route mean
    assert all(c.reason.startswith(f"rank {i} by latency (expected ") for i, c in enumerate(report.candidates, 1))


def test_a_greedy_pick_is_not_marked_as_exploration(policy):
    decision = decide(policy, STREAMED, {"local": _known(150, 3), "novita": _known(10, 3), "terminus": _known(150, 3)},
                      rng=random.Random(2))
    assert decision.chain[0] == "novita" and decision.exploration is False
    assert "exploration" not in decision.candidates[0].reason


def test_other_strategies_show_no_latency_figure(make_policy):
    policy = make_policy(routes=[{"name": "r", "use": ["local", "novita"], "prefer": "order"}])
    report = DecisionReport.from_decision(decide(policy, STREAMED, {"local": _known(100, 3)}))
    assert [(c.latency_ms, c.exploration) for c in report.candidates] == [(None, False), (None, False)]


def test_slo_reads_the_same_statistics_when_no_percentile_is_given(make_policy):
    policy = make_policy(routes=[{"name": "r", "use": ["local", "novita"], "prefer": "latency",
                                  "slo": {"ttft_p95_ms": 500}}])
    slow = BackendState(ttft_stats=LogLatencyStats.of([(400.0, 1.0), (1600.0, 1.0)]))  # p95 ~ 2370 ms
    decision = decide(policy, STREAMED, {"local": slow, "novita": _known(100, 3)}, rng=random.Random(0))
    assert decision.chain == ["novita"]
    assert next(v.reason for v in decision.candidates if v.backend == "local").startswith("over SLO: ttft_p95 2")
