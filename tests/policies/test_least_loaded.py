"""`prefer: least_loaded`: (in_flight + waiting) x (1 + kv_usage), lowest first, ties at random from the rng."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from policies.engine import decide
from policies.features import RequestFeatures
from policies.state import BackendState
from policies.strategies.least_loaded import load_score

AUTO = RequestFeatures(model="auto", input_tokens=100, max_tokens=100)
REPLICA = {"type": "vllm", "model": "deepseek-ai/DeepSeek-V3.2", "family": "deepseek-v3.2"}
REPLICAS = {name: dict(REPLICA) for name in ("r1", "r2", "r3")}


@pytest.fixture
def policy(make_policy):
    return make_policy(routes=[{"name": "pool", "use": ["r1", "r2", "r3"], "prefer": "least_loaded"}], backends=REPLICAS)


SCORE_CASES = [
    (BackendState(), 0.0),
    (BackendState(in_flight=3), 3.0),
    (BackendState(in_flight=3, waiting=2), 5.0),
    (BackendState(in_flight=2, waiting=2, kv_usage=0.5), 6.0),
    (BackendState(in_flight=0, waiting=0, kv_usage=0.99), 0.0),  # idle: KV usage alone does not break a tie
    (BackendState(in_flight=1, kv_usage=1.7), 2.0),  # an odd scrape is clamped to 1
]


@pytest.mark.parametrize(("state", "expected"), SCORE_CASES)
def test_load_score_adds_the_queue_to_in_flight_and_scales_by_kv_usage(state, expected):
    assert load_score(state) == pytest.approx(expected)


def test_the_least_loaded_replica_goes_first_whatever_its_list_position(policy):
    snapshot = {"r1": BackendState(in_flight=7), "r2": BackendState(in_flight=2, waiting=4), "r3": BackendState(in_flight=1)}
    decision = decide(policy, AUTO, snapshot, random.Random(1))
    assert decision.chain == ["r3", "r2", "r1"]
    assert decision.candidates[0].reason == (
        "rank 1 by least_loaded (load 1.00 = (in_flight 1 + waiting ?) x (1 + kv_usage ?))")


def test_kv_usage_weighs_equal_request_counts(policy):
    snapshot = {name: BackendState(in_flight=4, kv_usage=kv) for name, kv in (("r1", 0.9), ("r2", 0.2), ("r3", 0.5))}
    assert decide(policy, AUTO, snapshot, random.Random(2)).chain == ["r2", "r3", "r1"]


def test_ties_are_broken_at_random_not_by_list_order(policy):
    firsts = Counter(decide(policy, AUTO, {}, rng).chain[0] for rng in [random.Random(7)] for _ in range(300))
    assert set(firsts) == {"r1", "r2", "r3"}
    assert min(firsts.values()) > 300 / 5


def test_the_tie_break_is_reproducible_with_a_seeded_rng(policy):
    first = [decide(policy, AUTO, {}, random.Random(42)).chain for _ in range(3)]
    again = [decide(policy, AUTO, {}, random.Random(42)).chain for _ in range(3)]
    assert first == again
    assert len({tuple(decide(policy, AUTO, {}, random.Random(seed)).chain) for seed in range(20)}) > 1


def test_only_tied_replicas_are_shuffled(policy):
    snapshot = {"r1": BackendState(in_flight=2), "r2": BackendState(in_flight=2), "r3": BackendState(in_flight=9)}
    chains = {tuple(decide(policy, AUTO, snapshot, random.Random(seed)).chain) for seed in range(30)}
    assert chains == {("r1", "r2", "r3"), ("r2", "r1", "r3")}


def test_a_saturated_replica_is_dropped_before_ranking(make_policy):
    limited = {name: {**spec, "limits": {"max_in_flight": 4}} for name, spec in REPLICAS.items()}
    policy = make_policy(routes=[{"name": "pool", "use": ["r1", "r2", "r3"], "prefer": "least_loaded"}], backends=limited)
    snapshot = {"r1": BackendState(in_flight=4), "r2": BackendState(in_flight=3), "r3": BackendState(in_flight=1)}
    decision = decide(policy, AUTO, snapshot, random.Random(0))
    assert decision.chain == ["r3", "r2"]
    assert [c.reason for c in decision.candidates if not c.kept] == ["saturated: in_flight 4 >= max_in_flight 4"]
