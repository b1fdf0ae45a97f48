"""Spend report: sums by day/backend/key/route that add up exactly to the records, and savings."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys

import pytest
from accounting_fixtures import ROOT, accounting_policy, make_outcome

from backends.usage import Usage
from gateway.costing import CostBook
from gateway.ledger import LedgerWriter, SqliteLedger
from gateway.ledger.spend import spend_report

DAY_S = 86_400.0
START_S = 1_764_000_000.0  # 2025-11-24 16:00 UTC


@pytest.fixture
def filled_ledger(tmp_path):
    """240 attempts over two days, three backends, two keys, two routes; every eighth fails first."""
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    writer = LedgerWriter(ledger, costs=CostBook(accounting_policy()))
    backends = ("local", "deepseek", "fireworks")
    for i in range(240):
        request_id = f"req_{i}"
        common = dict(key_name=("team-a", "team-b", None)[i % 3], route=("default", "cheap")[i % 2],
                      started_at=START_S + (i % 2) * DAY_S + i)
        attempt = 1
        if i % 8 == 0:
            writer.on_outcome(make_outcome(request_id, backend="local", ok=False, **common))
            attempt = 2
        writer.on_outcome(make_outcome(request_id, attempt=attempt, backend=backends[i % 3], prompt=1_000 + i,
                                       cached=(i * 7) % 1_000, completion=100 + i, reasoning=i % 50, **common))
    asyncio.run(writer.flush())
    yield ledger
    ledger.close()


@pytest.mark.parametrize("by", ["day", "backend", "key", "route", "thinking"])
def test_groups_and_total_add_up_exactly_to_the_records(filled_ledger, by):
    records = filled_ledger.records()
    report = spend_report(filled_ledger, by)
    for field in ("cost_nano_usd", "self_hosted_cost_nano_usd"):
        per_record = sum(getattr(r, field) or 0 for r in records)
        assert sum(getattr(row, field) for row in report.rows) == getattr(report.total, field) == per_record
    for field in ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens"):
        assert sum(getattr(row, field) for row in report.rows) == report.total.__getattribute__(field) == sum(getattr(r, field) for r in records)
    assert report.total.attempts == len(records) == 270 and report.total.requests == 240
    assert report.total.failed_attempts == 30


def test_attempts_billed_from_an_estimate_are_counted_per_group(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    writer = LedgerWriter(ledger)
    estimated = Usage(prompt_tokens=40, completion_tokens=3, estimated=True)
    writer.on_outcome(dataclasses.replace(make_outcome("req_1", backend="local"), usage=estimated))
    writer.on_outcome(make_outcome("req_2", backend="local"))
    writer.on_outcome(make_outcome("req_3", backend="deepseek"))
    asyncio.run(writer.flush())
    report = spend_report(ledger, "backend")
    ledger.close()
    assert {row.group: row.estimated_attempts for row in report.rows} == {"local": 1, "deepseek": 0}
    assert report.total.estimated_attempts == 1


def test_by_thinking_groups_by_source_and_decision_so_detected_thinking_has_a_price(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    writer = LedgerWriter(ledger, costs=CostBook(accounting_policy()))
    for request_id, thinking, source, completion in (("r1", True, "detected", 900), ("r2", True, "detected", 700),
                                                     ("r3", False, "detected", 50), ("r4", True, "body", 300),
                                                     ("r5", None, None, 20)):
        outcome = make_outcome(request_id, completion=completion, reasoning=completion // 2 if thinking else 0)
        writer.on_outcome(dataclasses.replace(outcome, thinking=thinking, thinking_source=source))
    asyncio.run(writer.flush())
    report = spend_report(ledger, "thinking")
    ledger.close()
    rows = {row.group: row for row in report.rows}
    assert {group: (row.requests, row.completion_tokens, row.reasoning_tokens) for group, row in rows.items()} == {
        "detected/on": (2, 1600, 800), "detected/off": (1, 50, 0), "body/on": (1, 300, 150), "(none)": (1, 20, 0)}
    assert rows["detected/on"].cost_nano_usd > rows["detected/off"].cost_nano_usd > 0
    assert sum(row.cost_nano_usd for row in report.rows) == report.total.cost_nano_usd
    table = _spend_cli("--by", "thinking", "--db", str(tmp_path / "ledger.sqlite3"))
    assert table.returncode == 0, table.stderr
    assert [line.split()[0] for line in table.stdout.splitlines()[1:5]] == ["(none)", "body/on", "detected/off", "detected/on"]


def test_backend_rows_match_a_direct_sum_of_that_backends_records(filled_ledger):
    report = spend_report(filled_ledger, "backend")
    rows = {row.group: row for row in report.rows}
    assert set(rows) == {"local", "deepseek", "fireworks"}
    deepseek = [r for r in filled_ledger.records() if r.backend == "deepseek"]
    assert rows["deepseek"].cost_nano_usd == sum(r.cost_nano_usd for r in deepseek)
    assert rows["deepseek"].attempts == 80 and rows["local"].failed_attempts == 30
    assert rows["local"].cost_nano_usd == 0 and rows["local"].self_hosted_cost_nano_usd > 0


def test_by_day_splits_on_utc_dates(filled_ledger):
    assert [row.group for row in spend_report(filled_ledger, "day").rows] == ["2025-11-24", "2025-11-25"]


def _ledger_of(tmp_path, prompt: int, cached: int, completion: int) -> SqliteLedger:
    ledger = SqliteLedger(tmp_path / f"l{cached}.sqlite3")
    writer = LedgerWriter(ledger, costs=CostBook(accounting_policy()))
    writer.on_outcome(make_outcome("req_1", backend="fireworks", prompt=prompt, cached=cached, completion=completion))
    asyncio.run(writer.flush())
    return ledger


def test_savings_compare_against_the_cheapest_managed_provider_for_that_traffic(tmp_path):
    # No cache hits: Novita (0.269 in / 0.40 out) beats Fireworks (0.56 / 1.68) on 1M prompt + 100k completion tokens
    # (V3.2 traffic: the DeepSeek API, which serves V4 only since 2026-04-24, is no baseline for it)
    cold = spend_report(_ledger_of(tmp_path, 1_000_000, 0, 100_000), "backend")
    assert cold.baselines[0].provider == "novita"
    assert cold.total.baseline_nano_usd == round((1_000_000 * 0.269 + 100_000 * 0.40) * 1_000)
    # Mostly cache hits: Novita's 0.1345 cache-hit price applies: 200k x 0.269 + 800k x 0.1345 + 100k x 0.40
    warm = spend_report(_ledger_of(tmp_path, 1_000_000, 800_000, 100_000), "backend")
    assert warm.baselines[0].provider == "novita"
    assert warm.total.baseline_nano_usd == round((200_000 * 0.269 + 800_000 * 0.1345 + 100_000 * 0.40) * 1_000)
    # the traffic actually went to Fireworks (0.56 / 1.68, no cache price): savings are negative
    assert warm.total.cost_nano_usd == round((1_000_000 * 0.56 + 100_000 * 1.68) * 1_000)
    assert warm.total.savings_usd == pytest.approx((201_400 - 728_000) / 1e6)


def _spend_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "spend", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_cli_prints_per_backend_table_and_json_that_add_up(filled_ledger):
    table = _spend_cli("--by", "backend", "--db", str(filled_ledger.path))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["group", "requests", "attempts"]
    assert [line.split()[0] for line in lines[1:4]] == ["deepseek", "fireworks", "local"] and lines[4].startswith("---")
    as_json = _spend_cli("--by", "backend", "--db", str(filled_ledger.path), "--json")
    report = json.loads(as_json.stdout)
    assert sum(row["cost_nano_usd"] for row in report["rows"]) == report["total"]["cost_nano_usd"]
    total_line = next(line for line in lines if line.startswith("total"))
    assert f"{report['total']['cost_usd']:.9f}" in total_line


def test_cli_user_mistakes_are_one_line_and_exit_2(tmp_path):
    missing = _spend_cli("--db", str(tmp_path / "none.sqlite3"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no ledger file" in missing.stderr
    bad_day = _spend_cli("--db", str(tmp_path / "none.sqlite3"), "--since", "yesterday")
    assert bad_day.returncode == 2 and "YYYY-MM-DD" in bad_day.stderr
    bad_group = _spend_cli("--by", "planet")
    assert bad_group.returncode == 2 and "Traceback" not in bad_group.stderr


def test_spend_groups_by_client_protocol(tmp_path):
    ledger = SqliteLedger(tmp_path / "p.sqlite3")
    writer = LedgerWriter(ledger, costs=CostBook(accounting_policy()))
    for request_id, protocol in (("req_a", "anthropic-messages"), ("req_b", "openai-responses"), ("req_c", "openai-responses"),
                                 ("req_d", None)):
        writer.on_outcome(dataclasses.replace(make_outcome(request_id), protocol=protocol))
    asyncio.run(writer.flush())
    rows = {row.group: row.requests for row in spend_report(ledger, "protocol").rows}
    assert rows == {"anthropic-messages": 1, "openai-responses": 2, "(not recorded)": 1}
    assert [record.protocol for record in ledger.records()] == ["anthropic-messages", "openai-responses", "openai-responses", None]
