"""Prometheus metrics: outcomes are queued on the request path and folded in at scrape time."""

from __future__ import annotations

from dataclasses import replace

from accounting_fixtures import make_outcome
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import GatewayMetrics
from policies.state import BackendState


def _samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def test_outcomes_are_only_queued_until_a_scrape():
    metrics = GatewayMetrics()
    metrics.on_outcome(make_outcome())
    assert metrics.requests.labels("default", "deepseek", "200")._value.get() == 0
    samples = _samples(metrics)
    assert samples[("switchyard_requests_total", (("backend", "deepseek"), ("route", "default"), ("status", "200")))] == 1


def test_requests_tokens_cost_fallbacks_errors_and_latencies_are_counted():
    metrics = GatewayMetrics()
    metrics.on_outcome(make_outcome("r1", backend="local", ok=False, error_kind="connect_error", status=502))
    ok = make_outcome("r1", attempt=2, prompt=1_000, cached=400, completion=101, reasoning=60, latency_ms=1_100.0, ttft_ms=100.0)
    metrics.on_outcome(replace(ok, cost_usd=0.25))
    metrics.observe_overhead("default", 0.4)
    s = _samples(metrics)
    assert s[("switchyard_requests_total", (("backend", "local"), ("route", "default"), ("status", "502")))] == 1
    assert s[("switchyard_upstream_errors_total", (("backend", "local"), ("kind", "connect_error")))] == 1
    assert s[("switchyard_fallbacks_total", (("backend", "deepseek"), ("route", "default")))] == 1
    for kind, count in (("prompt", 1_000), ("cached", 400), ("completion", 101), ("reasoning", 60)):
        assert s[("switchyard_tokens_total", (("backend", "deepseek"), ("key", "team-a"), ("type", kind)))] == count
    assert s[("switchyard_cost_usd_total", (("backend", "deepseek"), ("key", "team-a")))] == 0.25
    assert s[("switchyard_time_to_first_token_seconds_count", (("backend", "deepseek"), ("route", "default")))] == 1
    assert s[("switchyard_time_to_first_token_seconds_sum", (("backend", "deepseek"), ("route", "default")))] == 0.1
    assert s[("switchyard_time_per_output_token_seconds_sum", (("backend", "deepseek"), ("route", "default")))] == 0.01
    assert s[("switchyard_gateway_overhead_seconds_bucket", (("le", "0.0005"), ("route", "default")))] == 1
    assert s[("switchyard_request_duration_seconds_count", (("backend", "deepseek"), ("route", "default"), ("status", "200")))] == 1


def test_present_state_gauges_are_read_at_scrape_time():
    metrics = GatewayMetrics()
    state = {"local": BackendState(circuit_open=True, in_flight=3), "novita": BackendState()}
    metrics.watch(snapshot=lambda: state, budget_remaining=lambda: [("team-a", 4.5), ("team-b", None)],
                  ledger_backlog=lambda: (7, 2))
    s = _samples(metrics)
    assert s[("switchyard_circuit_open", (("backend", "local"),))] == 1
    assert s[("switchyard_circuit_open", (("backend", "novita"),))] == 0
    assert s[("switchyard_backend_in_flight", (("backend", "local"),))] == 3
    assert s[("switchyard_budget_remaining_usd", (("key", "team-a"),))] == 4.5
    assert ("switchyard_budget_remaining_usd", (("key", "team-b"),)) not in s
    assert s[("switchyard_ledger_buffered_records", ())] == 7
    assert s[("switchyard_ledger_dropped_records_total", ())] == 2


def test_detected_thinking_is_counted_on_and_off_once_per_request():
    metrics = GatewayMetrics()
    assert _samples(metrics)[("switchyard_thinking_detected_total", (("thinking", "on"),))] == 0
    metrics.on_outcome(replace(make_outcome("r1"), thinking=True, thinking_source="detected"))
    metrics.on_outcome(replace(make_outcome("r1", attempt=2), thinking=True, thinking_source="detected"))  # a fallback
    metrics.on_outcome(replace(make_outcome("r2"), thinking=False, thinking_source="detected"))
    metrics.on_outcome(replace(make_outcome("r3"), thinking=False, thinking_source="detected"))
    metrics.on_outcome(replace(make_outcome("r4"), thinking=True, thinking_source="body"))  # explicit: not detected
    s = _samples(metrics)
    assert s[("switchyard_thinking_detected_total", (("thinking", "on"),))] == 1
    assert s[("switchyard_thinking_detected_total", (("thinking", "off"),))] == 2
