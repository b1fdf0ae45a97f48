"""Prefix affinity in the engine: the key, the remembered backend first while it may be, cost with its cache."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from policies.affinity import AffinityLookup, affinity_key, cached_prefix_share, prefix_messages
from policies.decision import DecisionReport
from policies.engine import decide
from policies.features import RequestFeatures
from policies.schema import AffinitySpec
from policies.state import BackendState

REPLICA = {"type": "vllm", "model": "deepseek-ai/DeepSeek-V3.2", "family": "deepseek-v3.2"}
REPLICAS = {name: dict(REPLICA) for name in ("r1", "r2", "r3")}
SYSTEM = {"role": "system", "content": "You are a careful assistant. " * 20}
TURN_1 = [SYSTEM, {"role": "user", "content": "Plan a trip."}]
TURN_2 = [*TURN_1, {"role": "assistant", "content": "Where to?"}, {"role": "user", "content": "Lisbon."}]


def _features(remembered: str | None, *, key: str | None = "pool:abc", share: float = 0.75) -> RequestFeatures:
    return RequestFeatures(model="auto", input_tokens=10_000, max_tokens=100,
                           affinity=AffinityLookup("prefix", key, remembered, share))


@pytest.fixture
def pool(make_policy):
    route = {"name": "pool", "use": ["r1", "r2", "r3"], "prefer": "least_loaded", "affinity": {"key": "prefix"}}
    return make_policy(routes=[route], backends=REPLICAS)


# --- the key ----------------------------------------------------------------------------------

def test_a_conversations_turns_share_one_prefix_key_and_conversations_differ():
    spec = AffinitySpec()
    first, second = affinity_key("pool", spec, {"messages": TURN_1}, {}), affinity_key("pool", spec, {"messages": TURN_2}, {})
    other = affinity_key("pool", spec, {"messages": [SYSTEM, {"role": "user", "content": "Plan a dinner."}]}, {})
    assert first == second and first is not None and first.startswith("pool:")
    assert other != first
    assert affinity_key("other-route", spec, {"messages": TURN_1}, {}) != first


def test_the_prefix_ends_at_the_first_user_message_so_turn_one_matches_turn_two_without_a_system_prompt():
    no_system = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "?"}]
    assert prefix_messages(no_system, 2) == no_system[:1]
    assert prefix_messages(TURN_2, 1) == [SYSTEM]
    spec = AffinitySpec(prefix_messages=4)
    assert affinity_key("r", spec, {"messages": no_system[:1]}, {}) == affinity_key("r", spec, {"messages": no_system}, {})


def test_tools_are_part_of_the_prefix_key():
    spec = AffinitySpec()
    tools = [{"type": "function", "function": {"name": "search", "parameters": {}}}]
    assert affinity_key("r", spec, {"messages": TURN_1}, {}) != affinity_key("r", spec, {"messages": TURN_1, "tools": tools}, {})


def test_header_and_user_keys_read_their_source_and_are_none_without_it():
    header = AffinitySpec(key="header:X-Session-Id")
    assert affinity_key("r", header, {"messages": TURN_1}, {"x-session-id": "s-1"}) == affinity_key(
        "r", header, {"messages": TURN_2}, {"x-session-id": "s-1"})
    assert affinity_key("r", header, {"messages": TURN_1}, {"x-session-id": "s-2"}) != affinity_key(
        "r", header, {"messages": TURN_1}, {"x-session-id": "s-1"})
    assert affinity_key("r", header, {"messages": TURN_1}, {}) is None
    user = AffinitySpec(key="user")
    assert affinity_key("r", user, {"messages": TURN_1, "user": "u-7"}, {}) is not None
    assert affinity_key("r", user, {"messages": TURN_1}, {}) is None


def test_the_cached_share_is_the_prompt_before_the_last_message():
    assert cached_prefix_share({"messages": TURN_1[:1]}) == 0.0
    share = cached_prefix_share({"messages": TURN_2})
    assert len("Lisbon.") / len(SYSTEM["content"] + "Plan a trip.Where to?Lisbon.") == pytest.approx(1 - share)


# --- the engine -------------------------------------------------------------------------------

def test_the_remembered_backend_goes_first_even_when_busier(pool):
    snapshot = {"r1": BackendState(in_flight=1), "r2": BackendState(in_flight=5), "r3": BackendState(in_flight=0)}
    decision = decide(pool, _features("r2"), snapshot, random.Random(0))
    assert decision.chain == ["r2", "r3", "r1"]
    assert decision.affinity is not None and decision.affinity.honoured
    assert decision.candidates[0].reason == (
        "rank 1 by affinity, it served this key last (least_loaded: load 5.00 = (in_flight 5 + waiting ?) x (1 + kv_usage ?))")
    report = DecisionReport.from_decision(decision).affinity
    assert report is not None and (report.key, report.remembered, report.honoured) == ("prefix", "r2", True)


REFUSALS = [
    (BackendState(circuit_open=True), "r2 was dropped: circuit open"),
    (BackendState(healthy=False), "r2 was dropped: unhealthy (health probe failing)"),
    (BackendState(waiting=8), "r2 is saturated: waiting 8 >= affinity.max_waiting 8"),
    (BackendState(in_flight=2, kv_usage=0.97), "r2 is saturated: kv_usage 0.97 >= affinity.max_kv_usage 0.95"),
]


@pytest.mark.parametrize(("state", "why"), REFUSALS)
def test_an_unhealthy_or_saturated_remembered_backend_yields_to_the_routes_order(pool, state, why):
    snapshot = {"r1": BackendState(in_flight=1), "r2": state, "r3": BackendState(in_flight=2)}
    decision = decide(pool, _features("r2"), snapshot, random.Random(0))
    assert decision.chain[0] == "r1"
    assert decision.affinity is not None and not decision.affinity.honoured
    assert decision.affinity.reason == f"{why}; the key moves to whoever serves"


def test_no_key_or_nothing_remembered_leaves_the_strategy_alone(pool):
    snapshot = {"r1": BackendState(in_flight=3), "r2": BackendState(in_flight=2), "r3": BackendState(in_flight=1)}
    for features, reason in ((_features(None), "no backend remembered for this key: the route's order decides"),
                             (_features(None, key=None), "this request carries no prefix key")):
        decision = decide(pool, features, snapshot, random.Random(0))
        assert decision.chain == ["r3", "r2", "r1"]
        assert decision.affinity is not None and decision.affinity.reason == reason
    offline = decide(pool, RequestFeatures(model="auto", input_tokens=10, max_tokens=10), snapshot, random.Random(0))
    assert offline.affinity is not None and offline.affinity.reason.startswith("not looked up")


def test_a_remembered_backend_outside_the_route_is_ignored(pool):
    decision = decide(pool, _features("novita"), {}, random.Random(0))
    assert decision.affinity is not None and not decision.affinity.honoured
    assert decision.affinity.reason.startswith("novita is not a candidate of this route")


def test_a_route_without_affinity_ignores_a_lookup(make_policy):
    policy = make_policy(routes=[{"name": "pool", "use": ["r1", "r2"], "prefer": "order"}], backends=REPLICAS)
    decision = decide(policy, _features("r2"), {})
    assert decision.chain == ["r1", "r2"] and decision.affinity is None


PRICED = {
    "cheap": {"type": "fireworks", "model": "accounts/fireworks/models/deepseek-v3p2", "family": "deepseek-v3.2",
              "price": {"input_usd_per_mtok": 0.26, "cached_input_usd_per_mtok": 0.026, "output_usd_per_mtok": 0.40}},
    "sticky": {"type": "novita", "model": "deepseek/deepseek-v3.2", "family": "deepseek-v3.2",
               "price": {"input_usd_per_mtok": 0.27, "cached_input_usd_per_mtok": 0.135, "output_usd_per_mtok": 0.40}},
}


@pytest.fixture
def priced(make_policy):
    route = {"name": "pool", "use": ["cheap", "sticky"], "prefer": "cost", "affinity": {}}
    return make_policy(routes=[route], backends=PRICED)


def test_cost_prices_the_cached_prefix_at_the_remembered_backend_and_full_price_elsewhere(priced):
    decision = decide(priced, _features("sticky", share=0.75), {"cheap": BackendState(cache_hit_ratio=0.5)})
    costs = {c.backend: c.expected_cost_usd for c in decision.candidates}
    assert costs["sticky"] == pytest.approx((2500 * 0.27 + 7500 * 0.135 + 100 * 0.40) / 1e6)
    assert costs["cheap"] == pytest.approx((10_000 * 0.26 + 100 * 0.40) / 1e6)  # its own hit ratio is not this conversation
    assert decision.chain == ["sticky", "cheap"] and decision.affinity is not None and decision.affinity.honoured


def test_cost_leaves_the_remembered_backend_when_another_is_cheaper_even_with_the_cache(priced):
    decision = decide(priced, _features("sticky", share=0.01), {})
    assert decision.chain == ["cheap", "sticky"]
    assert decision.affinity is not None and not decision.affinity.honoured
    assert decision.affinity.reason.startswith("cheap is cheaper (")


def test_without_a_remembered_backend_cost_uses_the_observed_hit_ratio(priced):
    features = replace(_features(None), affinity=AffinityLookup("prefix", "pool:abc", None, 0.9))
    decision = decide(priced, features, {"sticky": BackendState(cache_hit_ratio=0.5)})
    costs = {c.backend: c.expected_cost_usd for c in decision.candidates}
    assert costs["sticky"] == pytest.approx((5000 * 0.27 + 5000 * 0.135 + 100 * 0.40) / 1e6)
