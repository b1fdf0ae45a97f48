"""The routing engine: route matching, candidate filters, SLO, price ceiling, errors, chain length."""

from __future__ import annotations

import pytest

from policies.engine import DEFAULT_OUTPUT_TOKENS, decide
from policies.errors import NoCandidateError, NoRouteError, UnknownModelError
from policies.features import RequestFeatures, extract_features
from policies.state import BackendState

ALL = ["local", "novita", "terminus", "plain"]


def _two_routes(when: dict) -> list[dict]:
    return [
        {"name": "special", "when": when, "use": ["novita"]},
        {"name": "rest", "use": ["local"]},
    ]


CONDITION_CASES = [
    # (when, features, expected route)
    ({"model": "auto"}, RequestFeatures(model="auto"), "special"),
    ({"model": ["deepseek-chat", "auto"]}, RequestFeatures(model="auto"), "special"),
    ({"model": "deepseek-chat"}, RequestFeatures(model="auto"), "rest"),
    ({"thinking": True}, RequestFeatures(model="auto", thinking=True), "special"),
    ({"thinking": True}, RequestFeatures(model="auto", thinking=None), "rest"),
    ({"thinking": False}, RequestFeatures(model="auto", thinking=False), "special"),
    ({"thinking": False}, RequestFeatures(model="auto", thinking=None), "special"),
    ({"thinking": False}, RequestFeatures(model="auto", thinking=True), "rest"),
    ({"input_tokens": {"gt": 100}}, RequestFeatures(model="auto", input_tokens=101), "special"),
    ({"input_tokens": {"gt": 100}}, RequestFeatures(model="auto", input_tokens=100), "rest"),
    ({"input_tokens": {"gte": 100}}, RequestFeatures(model="auto", input_tokens=100), "special"),
    ({"input_tokens": {"lt": 100}}, RequestFeatures(model="auto", input_tokens=100), "rest"),
    ({"input_tokens": {"lte": 100}}, RequestFeatures(model="auto", input_tokens=100), "special"),
    ({"input_tokens": {"gt": 10, "lt": 20}}, RequestFeatures(model="auto", input_tokens=15), "special"),
    ({"input_tokens": {"gt": 10, "lt": 20}}, RequestFeatures(model="auto", input_tokens=20), "rest"),
    ({"max_tokens": {"gte": 4096}}, RequestFeatures(model="auto", max_tokens=4096), "special"),
    ({"max_tokens": {"gte": 4096}}, RequestFeatures(model="auto", max_tokens=None), "rest"),
    ({"tools": True}, RequestFeatures(model="auto", tools=True), "special"),
    ({"tools": True}, RequestFeatures(model="auto", tools=False), "rest"),
    ({"stream": False}, RequestFeatures(model="auto", stream=False), "special"),
    ({"stream": False}, RequestFeatures(model="auto", stream=True), "rest"),
    ({"response_format": "json_schema"}, RequestFeatures(model="auto", response_format="json_schema"), "special"),
    ({"response_format": ["json_object", "json_schema"]}, RequestFeatures(model="auto", response_format="json_object"), "special"),
    ({"response_format": "text"}, RequestFeatures(model="auto", response_format=None), "special"),
    ({"response_format": "json_object"}, RequestFeatures(model="auto"), "rest"),
    ({"key_tags": ["batch", "team-a"]}, RequestFeatures(model="auto", key_tags=frozenset({"batch", "team-a", "x"})), "special"),
    ({"key_tags": ["batch", "team-a"]}, RequestFeatures(model="auto", key_tags=frozenset({"batch"})), "rest"),
    ({"header": {"X-Tier": "gold"}}, RequestFeatures(model="auto", headers={"x-tier": "gold"}), "special"),
    ({"header": {"X-Tier": "gold"}}, RequestFeatures(model="auto", headers={"x-tier": "silver"}), "rest"),
    ({"budget_remaining_usd": {"lt": 1.0}}, RequestFeatures(model="auto", budget_remaining_usd=0.5), "special"),
    ({"budget_remaining_usd": {"lt": 1.0}}, RequestFeatures(model="auto", budget_remaining_usd=None), "rest"),
    ({"model": "auto", "tools": True}, RequestFeatures(model="auto", tools=False), "rest"),
]


@pytest.mark.parametrize(("when", "features", "expected"), CONDITION_CASES)
def test_route_matches_when_every_condition_holds(make_policy, when, features, expected):
    policy = make_policy(routes=_two_routes(when))
    assert decide(policy, features, {}).route == expected


def test_first_matching_route_decides(make_policy):
    policy = make_policy(
        routes=[
            {"name": "tools", "when": {"tools": True}, "use": ["novita"]},
            {"name": "streams", "when": {"stream": True}, "use": ["terminus"]},
            {"name": "rest", "use": ["local"]},
        ]
    )
    decision = decide(policy, RequestFeatures(model="auto", tools=True, stream=True), {})
    assert (decision.route, decision.chain) == ("tools", ["novita"])


FILTER_CASES = [
    # (features, state of 'local', dropped backend -> reason fragment)
    (RequestFeatures(model="deepseek-v3.2"), {}, {"terminus": "model deepseek-v3.2 needs deepseek-v3.2", "plain": "unknown family"}),
    (RequestFeatures(model="auto", thinking=True), {}, {"plain": "cannot serve thinking mode"}),
    (RequestFeatures(model="auto", input_tokens=8000, max_tokens=500), {}, {"plain": "context window 8192 < 8500 tokens"}),
    (RequestFeatures(model="auto", input_tokens=140000), {}, {"terminus": "context window 131072 < 140000", "plain": "context window"}),
    (RequestFeatures(model="auto"), {"local": BackendState(circuit_open=True)}, {"local": "circuit open"}),
    (RequestFeatures(model="auto"), {"local": BackendState(healthy=False)}, {"local": "unhealthy"}),
    (RequestFeatures(model="auto"), {"local": BackendState(in_flight=4)}, {"local": "in_flight 4 >= max_in_flight 4"}),
    (RequestFeatures(model="auto"), {"local": BackendState(waiting=2)}, {"local": "waiting 2 >= max_waiting 2"}),
    (RequestFeatures(model="auto"), {"local": BackendState(kv_usage=0.95)}, {"local": "kv_usage 0.95 >= max_kv_usage 0.90"}),
    (RequestFeatures(model="auto"), {"local": BackendState(in_flight=3, waiting=1, kv_usage=0.5)}, {}),
]


@pytest.mark.parametrize(("features", "snapshot", "dropped"), FILTER_CASES)
def test_filters_drop_backends_that_cannot_serve_the_request(make_policy, features, snapshot, dropped):
    decision = decide(make_policy(max_attempts=4), features, snapshot)
    reasons = {v.backend: v.reason for v in decision.candidates if not v.kept}
    assert set(reasons) == set(dropped)
    for backend, fragment in dropped.items():
        assert fragment in reasons[backend]
    assert decision.chain == [name for name in ALL if name not in dropped]


def test_everything_filtered_out_raises_no_candidate_with_every_reason(make_policy):
    policy = make_policy(routes=[{"name": "only", "use": ["local", "plain"]}])
    snapshot = {"local": BackendState(circuit_open=True)}
    with pytest.raises(NoCandidateError) as caught:
        decide(policy, RequestFeatures(model="auto", thinking=True), snapshot)
    error = caught.value
    assert error.http_status == 503
    assert error.route == "only"
    assert error.reasons == [("local", "circuit open"), ("plain", "cannot serve thinking mode")]
    assert str(error) == (
        "no backend can serve this request on route 'only': local: circuit open; plain: cannot serve thinking mode"
    )


PANIC_NOTE = "circuit open, tried anyway: every candidate's circuit is open"
PANIC_CASES = {
    # name: (state of each backend of route [local, novita], expected chain, panic, expected reasons)
    "every circuit open: all tried anyway, in the route's order": (
        {"local": BackendState(circuit_open=True), "novita": BackendState(circuit_open=True)},
        ["local", "novita"], True, {"local": f"rank 1 by order; {PANIC_NOTE}", "novita": f"rank 2 by order; {PANIC_NOTE}"},
    ),
    "one circuit open, one closed: the open one is dropped as usual": (
        {"local": BackendState(circuit_open=True)},
        ["novita"], False, {"local": "circuit open", "novita": "rank 1 by order"},
    ),
    "no circuit open: no panic": (
        {}, ["local", "novita"], False, {"local": "rank 1 by order", "novita": "rank 2 by order"},
    ),
}


@pytest.mark.parametrize(("states", "chain", "panic", "reasons"), list(PANIC_CASES.values()), ids=list(PANIC_CASES))
def test_panic_mode_tries_open_circuits_only_when_every_candidate_is_dropped_for_one(make_policy, states, chain, panic, reasons):
    policy = make_policy(routes=[{"name": "pair", "use": ["local", "novita"]}])
    decision = decide(policy, RequestFeatures(model="auto"), states)
    assert (decision.chain, decision.panic) == (chain, panic)
    assert {v.backend: v.reason for v in decision.candidates} == reasons


@pytest.mark.parametrize(
    ("local", "novita"),
    [(BackendState(circuit_open=True), BackendState(healthy=False)),
     (BackendState(circuit_open=True, in_flight=4), BackendState(circuit_open=True))],
    ids=["the other is unhealthy", "one open circuit is also saturated"],
)
def test_no_panic_when_some_candidate_is_dropped_for_another_reason(make_policy, local, novita):
    policy = make_policy(routes=[{"name": "pair", "use": ["local", "novita"]}])
    with pytest.raises(NoCandidateError) as caught:
        decide(policy, RequestFeatures(model="auto"), {"local": local, "novita": novita})
    assert caught.value.reasons[0] == ("local", "circuit open")


def test_unknown_model_raises_404_listing_known_models(make_policy):
    with pytest.raises(UnknownModelError) as caught:
        decide(make_policy(), RequestFeatures(model="gpt-4"), {})
    assert caught.value.http_status == 404
    assert str(caught.value) == (
        "The model `gpt-4` does not exist; available models: auto, deepseek-v3.2, deepseek-reasoner, deepseek-chat"
    )


def test_no_matching_route_raises_no_route(make_policy):
    policy = make_policy(routes=[{"name": "tools-only", "when": {"tools": True}, "use": ["local"]}])
    with pytest.raises(NoRouteError, match="no route matches this request"):
        decide(policy, RequestFeatures(model="auto"), {})


def test_chain_is_cut_to_max_attempts_and_the_rest_are_reported(make_policy):
    decision = decide(make_policy(max_attempts=2), RequestFeatures(model="auto"), {})
    assert decision.chain == ["local", "novita"]
    beyond = {v.backend: v for v in decision.candidates if v.backend in ("terminus", "plain")}
    assert not beyond["terminus"].kept
    assert beyond["terminus"].reason == "rank 3 by order; beyond fallback.max_attempts 2"


def test_slo_drops_candidates_observed_over_target(make_policy):
    policy = make_policy(routes=[{"name": "r", "use": ["local", "novita", "terminus"], "slo": {"ttft_p95_ms": 1000}}])
    snapshot = {"local": BackendState(ttft_p95_ms=2500), "novita": BackendState(ttft_p95_ms=800)}
    decision = decide(policy, RequestFeatures(model="auto"), snapshot)
    assert decision.chain == ["novita", "terminus"]
    dropped = [v for v in decision.candidates if not v.kept]
    assert [(v.backend, v.reason) for v in dropped] == [("local", "over SLO: ttft_p95 2500 ms > slo 1000 ms")]


def test_slo_on_tpot_drops_slow_decoders(make_policy):
    policy = make_policy(routes=[{"name": "r", "use": ["local", "novita"], "slo": {"tpot_p95_ms": 50}}])
    decision = decide(policy, RequestFeatures(model="auto"), {"local": BackendState(tpot_p95_ms=80)})
    assert decision.chain == ["novita"]


def test_slo_keeps_everyone_when_all_are_over_target(make_policy):
    policy = make_policy(routes=[{"name": "r", "use": ["local", "novita"], "slo": {"ttft_p95_ms": 100}}])
    snapshot = {"local": BackendState(ttft_p95_ms=300), "novita": BackendState(ttft_p95_ms=200)}
    decision = decide(policy, RequestFeatures(model="auto"), snapshot)
    assert decision.chain == ["local", "novita"]
    assert decision.candidates[0].reason == "rank 1 by order; over SLO (ttft_p95 300 ms > slo 100 ms) but kept: every candidate is"


def test_price_ceiling_drops_backends_whose_blended_price_is_too_high(make_policy):
    policy = make_policy(routes=[{"name": "r", "use": ["terminus", "novita", "local"], "max_usd_per_mtok": 1.0}])
    # 1000 in + 1000 out: terminus (0.56 + 1.68) / 2 = 1.12 USD/Mtok; novita (0.27 + 0.40) / 2 = 0.335
    decision = decide(policy, RequestFeatures(model="auto", input_tokens=1000, max_tokens=1000), {})
    assert decision.chain == ["novita", "local"]
    dropped = {v.backend: v.reason for v in decision.candidates if not v.kept}
    assert dropped == {"terminus": "blended price 1.120 USD/Mtok > max_usd_per_mtok 1"}


def test_expected_output_defaults_then_follows_observed_average(make_policy):
    policy = make_policy()
    assert decide(policy, RequestFeatures(model="auto"), {}).expected_output_tokens == DEFAULT_OUTPUT_TOKENS
    snapshot = {"local": BackendState(avg_output_tokens=300), "novita": BackendState(avg_output_tokens=500)}
    assert decide(policy, RequestFeatures(model="auto"), snapshot).expected_output_tokens == 400
    assert decide(policy, RequestFeatures(model="auto", max_tokens=50), snapshot).expected_output_tokens == 50


def test_decision_reports_expected_cost_of_each_candidate(make_policy):
    decision = decide(make_policy(), RequestFeatures(model="auto", input_tokens=100_000, max_tokens=10_000), {})
    costs = {v.backend: v.expected_cost_usd for v in decision.candidates}
    # plain is dropped (8192-token window) but its cost is still reported
    assert costs == {"local": 0.0, "novita": pytest.approx(0.031), "terminus": pytest.approx(0.0728), "plain": pytest.approx(0.11)}


def test_cached_share_is_priced_at_the_cached_rate(make_policy):
    snapshot = {"novita": BackendState(cache_hit_ratio=0.5)}
    decision = decide(make_policy(), RequestFeatures(model="auto", input_tokens=100_000, max_tokens=1), snapshot)
    novita = next(v for v in decision.candidates if v.backend == "novita")
    assert novita.expected_cost_usd == pytest.approx(0.05 * 0.27 + 0.05 * 0.13 + 0.40 / 1e6)


def test_decision_carries_the_thinking_need(make_policy):
    assert decide(make_policy(), RequestFeatures(model="auto", thinking=True), {}).thinking is True
    assert decide(make_policy(), RequestFeatures(model="auto", thinking=False), {}).thinking is False


def test_a_detected_need_matches_when_thinking_exactly_like_an_explicit_one(make_policy):
    policy = make_policy(routes=[
        {"name": "reasoning", "when": {"thinking": True}, "use": ["terminus"]},
        {"name": "default", "use": ["local", "plain"]},
    ])
    policy.models["auto"].thinking = "auto"
    proof = {"model": "auto", "messages": [{"role": "user", "content": "Prove that sqrt(2) is irrational."}]}
    translation = {"model": "auto", "messages": [{"role": "user", "content": "Translate into German: good morning!"}]}
    detected = decide(policy, extract_features(proof, {}, policy), {})
    explicit = decide(policy, extract_features({**translation, "reasoning_effort": "high"}, {}, policy), {})
    plain = decide(policy, extract_features(translation, {}, policy), {})
    assert (detected.route, detected.thinking, detected.thinking_source) == ("reasoning", True, "detected")
    assert detected.thinking_score is not None and detected.thinking_score >= 0.5
    assert (explicit.route, explicit.thinking_source, explicit.thinking_score) == ("reasoning", "body", None)
    assert (plain.route, plain.chain, plain.thinking, plain.thinking_source) == ("default", ["local", "plain"], False, "detected")
