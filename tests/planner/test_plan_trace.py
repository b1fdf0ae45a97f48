"""`planner plan --trace/--from-ledger`: replica counts for real traffic, the rest spilling to a managed API;
`planner emit policy` writes the chosen mix as a policy the gateway loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from planner.catalog import load_model
from planner.plan_trace import SECONDS_PER_MONTH, TracePlanRequest, peak_requests_per_s, plan_for_trace
from planner.prices import managed_prices
from planner.trace import Trace, TraceRecord, TraceShape, generate_trace, write_jsonl
from tests.conftest import ROOT

SPEC = load_model("deepseek-v3.2")
BUSY = generate_trace(TraceShape(duration_s=300, rps=25, seed=11))
SLO = dict(ttft_p95_ms=3000.0, tpot_ms=100.0, gpus=("h200",), candidates=1)
CHEAP_H200_USD = 0.5
"""An H200-hour price at which self-hosting this trace beats the managed bill (list prices do not)."""


@pytest.fixture(scope="module")
def cheap_gpus():
    return plan_for_trace(SPEC, BUSY, TracePlanRequest(**SLO, gpu_hourly_usd={"h200": CHEAP_H200_USD}), managed_prices("deepseek-v3.2"))


def test_rows_cover_zero_to_enough_replicas_and_the_cheapest_meeting_mix_is_marked(cheap_gpus):
    rows = cheap_gpus.rows
    assert rows[0].replicas == 0 and rows[0].deployment is None and rows[0].self_hosted_share == 0.0
    assert [row.replicas for row in rows[1:]] == list(range(1, len(rows)))
    assert rows[-1].self_hosted_share > 0.99  # the last row covers the peak (bar a queue in a burst)
    shares = [row.self_hosted_share for row in rows]
    assert shares == sorted(shares)
    assert [row.cheapest for row in rows].count(True) == 1 and rows[cheap_gpus.best].cheapest
    best = rows[cheap_gpus.best]
    assert best.replicas > 0 and best.meets_slo
    assert best.monthly_usd == min(row.monthly_usd for row in rows if row.meets_slo)
    for row in rows:
        assert row.monthly_usd == pytest.approx(row.gpu_monthly_usd + row.managed_monthly_usd, abs=0.02)
        if row.replicas:
            assert row.gpu_monthly_usd == pytest.approx(row.replicas * row.deployment.gpus * CHEAP_H200_USD * 730, abs=0.01)
    assert cheap_gpus.emit_command.startswith(f"planner emit policy --model deepseek-v3.2 --gpu h200 --gpus {best.deployment.gpus}")
    assert f"--replicas {best.replicas}" in cheap_gpus.emit_command and "--managed novita" in cheap_gpus.emit_command


def test_everything_managed_is_billed_at_the_providers_prices_scaled_to_a_month(cheap_gpus):
    novita = next(p for p in managed_prices("deepseek-v3.2") if p.provider == "novita")
    prompt = sum(r.input_tokens for r in BUSY.records)
    output = sum(r.output_tokens for r in BUSY.records)
    bill = (prompt * novita.input_usd_per_mtok + output * novita.output_usd_per_mtok) / 1e6
    assert cheap_gpus.managed_provider == "novita"  # the cheapest of the three listed for V3.2
    assert cheap_gpus.rows[0].managed_monthly_usd == pytest.approx(bill * SECONDS_PER_MONTH / BUSY.span_s, rel=1e-4)


def test_the_managed_provider_is_the_cheapest_whose_default_latency_meets_the_slo():
    # A what-if row (as a --prices file gives): a `deepseek`-type provider serving V3.2 cheapest of all,
    # at that type's documented default TTFT of 2.2 s (DeepSeek's own API serves only V4 since 2026-04).
    novita = next(p for p in managed_prices("deepseek-v3.2") if p.provider == "novita")
    cheapest_but_slow = novita.model_copy(update={
        "provider": "deepseek", "input_usd_per_mtok": 0.01, "output_usd_per_mtok": 0.01, "source": "test what-if"})
    prices = [*managed_prices("deepseek-v3.2"), cheapest_but_slow]
    strict = plan_for_trace(SPEC, BUSY, TracePlanRequest(ttft_p95_ms=1500, gpus=("h200",), candidates=1, max_replicas=1), prices)
    loose = plan_for_trace(SPEC, BUSY, TracePlanRequest(ttft_p95_ms=5000, gpus=("h200",), candidates=1, max_replicas=1), prices)
    assert (strict.managed_provider, loose.managed_provider) == ("novita", "deepseek")


def test_at_list_gpu_prices_light_traffic_is_cheapest_all_managed():
    light = generate_trace(TraceShape(duration_s=300, rps=2, seed=3))
    result = plan_for_trace(SPEC, light, TracePlanRequest(**SLO), managed_prices("deepseek-v3.2"))
    assert result.best == 0 and result.rows[0].cheapest and result.emit_command is None


def test_the_peak_rate_is_the_busiest_window():
    trace = Trace([TraceRecord(t=t, input_tokens=1, output_tokens=1) for t in [0, 1, 2, 3, 50, 99]], "x")
    assert peak_requests_per_s(trace) == pytest.approx(4 / 9.9)


def _planner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_plan_from_a_trace_file_prints_the_rows_and_the_policy_line_and_emit_writes_a_loadable_policy(tmp_path):
    path = tmp_path / "trace.jsonl"
    with path.open("w") as out:
        write_jsonl(BUSY.records, out)
    table = _planner("plan", "--trace", str(path), "--gpu", "h200", "--ttft-p95-ms", "3000", "--tpot-ms", "100",
                     "--candidates", "1", "--gpu-hourly-usd", str(CHEAP_H200_USD))
    assert table.returncode == 0, table.stderr
    assert "* cheapest mix meeting the SLO:" in table.stdout
    command = table.stdout.strip().splitlines()[-1].removeprefix("write it as a policy: ").split()
    assert command[:3] == ["planner", "emit", "policy"]
    emitted = _planner(*command[1:])
    assert emitted.returncode == 0, emitted.stderr
    from policies.loader import parse_policy_text

    policy = parse_policy_text(emitted.stdout, "emitted.yaml", env={"NOVITA_API_KEY": "k"})
    replicas = int(command[command.index("--replicas") + 1])
    assert list(policy.backends) == [f"local-{i}" for i in range(1, replicas + 1)] + ["novita"]
    local = policy.backends["local-1"]
    assert local.deployment.gpus == int(command[command.index("--gpus") + 1])
    assert local.deployment.max_num_seqs == int(command[command.index("--max-num-seqs") + 1])
    assert local.cost.gpu_hourly_usd == CHEAP_H200_USD and policy.routes[0].prefer == "cost"


def test_plan_json_lists_every_row():
    trace = ROOT / "tests" / "planner" / "data" / "small-trace.jsonl"
    done = _planner("plan", "--trace", str(trace), "--gpu", "h200", "--ttft-p95-ms", "3000", "--candidates", "1",
                    "--max-replicas", "2", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"rows", "best", "managed_provider", "peak_requests_per_s", "emit_command"} <= set(result)
    assert {"replicas", "monthly_usd", "slo_attainment", "meets_slo", "cheapest", "self_hosted_share"} <= set(result["rows"][0])


def test_a_bad_trace_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"t": 0}\n')
    done = _planner("plan", "--trace", str(path))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and f"{path}:1:" in done.stderr


def test_planning_for_a_trace_never_imports_the_gateway_policies_or_heavy_packages():
    trace = ROOT / "tests" / "planner" / "data" / "small-trace.jsonl"
    code = (
        "import sys, io, contextlib, planner.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    planner.cli.main(['plan', '--trace', {str(trace)!r}, '--gpu', 'h200', '--candidates', '1', '--max-replicas', '1'])\n"
        "print([m for m in ('litellm', 'torch', 'fastapi', 'httpx', 'gateway', 'policies', 'backends') if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def test_emit_policy_with_a_prices_file_writes_those_prices_into_the_policy(tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("prices:\n  - {provider: novita, family: deepseek-v3.2, input_usd_per_mtok: 0.5, "
                      "output_usd_per_mtok: 1.5, source: negotiated 2026-12}\n")
    done = _planner("emit", "policy", "--gpu", "h200", "--gpus", "8", "--tp", "8", "--replicas", "2",
                    "--max-num-seqs", "64", "--managed", "novita", "--prices", str(prices))
    assert done.returncode == 0, done.stderr
    from policies.loader import parse_policy_text

    policy = parse_policy_text(done.stdout, "emitted.yaml", env={"NOVITA_API_KEY": "k"})
    novita = policy.backends["novita"]
    assert (novita.price.input_usd_per_mtok, novita.price.output_usd_per_mtok) == (0.5, 1.5)
    assert policy.backends["local-2"].limits.max_in_flight == 64 and policy.backends["local-2"].limits.max_waiting == 4
    assert _planner("emit", "policy", "--managed", "nobody").returncode == 2
