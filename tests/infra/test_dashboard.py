"""infra/grafana/switchyard.json: every PromQL query parses and names only series the gateway or vLLM export.

vLLM's names come from the live `/metrics` page of `gateway emulate --profile vllm`; the gateway's
from its live `/metrics` when it serves one, else from the registry of `gateway.metrics`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import promql_parser
import pytest
from prometheus_client.parser import text_string_to_metric_families

from planner.prices import managed_prices

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "infra" / "grafana" / "switchyard.json").read_text())
SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count"),
                   "gauge": ("",), "unknown": ("",)}  # fmt: skip
RATE_FUNCTIONS = {"rate", "irate", "increase"}


def exported_series(page: str) -> dict[str, str]:
    """Series name -> metric type, for every family on a Prometheus text page (samples or not)."""
    series: dict[str, str] = {}
    for family in text_string_to_metric_families(page):
        for suffix in SERIES_SUFFIXES.get(family.type, ("",)):
            series[family.name + suffix] = family.type
    return series


def _expressions() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in DASHBOARD["panels"] for target in panel.get("targets", [])]


def _parse(expr: str) -> promql_parser.Expr:
    """Grafana's variables replaced by values of their kind, then parsed by a real PromQL parser."""
    text = expr.replace("$__rate_interval", "5m").replace('"$self_hosted"', '"local-.*"')
    return promql_parser.parse(re.sub(r"\$[a-z_]+", "1", text))


def used_series(expr: str) -> tuple[set[str], set[str]]:
    """(every series name the query selects, the names it takes a rate of)."""
    names: set[str] = set()
    rated: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)
        if isinstance(node, promql_parser.Call) and node.func.name in RATE_FUNCTIONS:
            rated.add(node.args[0].vector_selector.name)

    promql_parser.walk(_parse(expr), visit)
    return names, rated


@pytest.fixture(scope="module")
def vllm_series(servers) -> dict[str, str]:
    emulator = servers.emulator("vllm", name="dashboard-vllm")
    page = httpx.get(f"{emulator.url}/metrics", timeout=5).text
    return exported_series(page)


@pytest.fixture(scope="module")
def gateway_series(servers, vllm_series) -> dict[str, str]:
    emulator = next(server for server in servers.started if server.name == "dashboard-vllm")
    nowhere = "http://127.0.0.1:9/v1"
    env = {"VLLM_BASE_URL": emulator.v1, "NOVITA_BASE_URL": nowhere, "FIREWORKS_BASE_URL": nowhere, "DEEPSEEK_BASE_URL": nowhere,
           "NOVITA_API_KEY": "sk-test", "FIREWORKS_API_KEY": "sk-test", "DEEPSEEK_API_KEY": "sk-test"}  # fmt: skip
    gateway = servers.gateway((ROOT / "policies" / "default.yaml").read_text(), env=env)
    response = httpx.get(f"{gateway.url}/metrics", timeout=5)
    assert response.status_code == 200, response.text
    return exported_series(response.text)


def test_series_names_follow_each_metric_type() -> None:
    page = ("# TYPE a_seconds histogram\n# TYPE b counter\n# TYPE vllm:c_total counter\nvllm:c_total 1\n"
            "# TYPE vllm:d gauge\nvllm:d 2\n")  # fmt: skip
    assert exported_series(page) == {"a_seconds_bucket": "histogram", "a_seconds_sum": "histogram",
                                     "a_seconds_count": "histogram", "b_total": "counter", "vllm:c_total": "counter",
                                     "vllm:d": "gauge"}  # fmt: skip


def test_every_query_parses_and_uses_only_exported_series(vllm_series, gateway_series) -> None:
    exported = {**vllm_series, **gateway_series}
    unknown = {title: sorted(used_series(expr)[0] - set(exported)) for title, expr in _expressions()}
    assert {title: names for title, names in unknown.items() if names} == {}


def test_rates_are_taken_of_counters_and_histograms_only(vllm_series, gateway_series) -> None:
    exported = {**vllm_series, **gateway_series}
    gauges = {title: sorted(n for n in used_series(expr)[1] if exported.get(n) not in ("counter", "histogram"))
              for title, expr in _expressions()}  # fmt: skip
    assert {title: names for title, names in gauges.items() if names} == {}


def test_dashboard_covers_the_issue_s_panels(vllm_series, gateway_series) -> None:
    used = set().union(*(used_series(expr)[0] for _, expr in _expressions()))
    assert {"switchyard_requests_total", "switchyard_upstream_errors_total", "switchyard_fallbacks_total",
            "switchyard_time_to_first_token_seconds_bucket", "switchyard_time_per_output_token_seconds_bucket",
            "switchyard_cost_usd_total", "switchyard_tokens_total", "vllm:num_requests_waiting",
            "vllm:kv_cache_usage_perc"} <= used  # fmt: skip
    assert any("histogram_quantile(0.95" in expr for _, expr in _expressions())


def test_an_unknown_metric_name_would_be_caught(vllm_series, gateway_series) -> None:
    names, _ = used_series("sum(rate(switchyard_request_total[$__rate_interval]))")
    assert names - {**vllm_series, **gateway_series}.keys() == {"switchyard_request_total"}


def test_savings_baseline_defaults_are_the_cheapest_managed_v32_prices() -> None:
    variables = {v["name"]: float(v["query"]) for v in DASHBOARD["templating"]["list"] if v["name"].endswith("_usd_per_mtok")}
    cheapest = min(managed_prices("deepseek-v3.2"), key=lambda p: p.input_usd_per_mtok + p.output_usd_per_mtok)
    assert variables == {"baseline_input_usd_per_mtok": cheapest.input_usd_per_mtok,
                         "baseline_cached_input_usd_per_mtok": cheapest.cached_input_usd_per_mtok,
                         "baseline_output_usd_per_mtok": cheapest.output_usd_per_mtok}  # fmt: skip
