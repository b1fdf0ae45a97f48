"""Usage records newest first with cursor paging: the ledger's `page`, `GET /admin/usage` over a
real gateway, and `gateway usage --tail N`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest
from accounting_fixtures import ROOT, make_outcome

from gateway.ledger import LedgerWriter, RecordId, SqliteLedger, UnknownRecordError, UsageFilter

START_S = 1_764_000_000.0
ADMIN_KEY = "admin-usage-pages"
POLICY = """
version: 1
backends:
  local: {type: vllm, base_url: "http://127.0.0.1:9/v1", model: deepseek-ai/DeepSeek-V3.2, family: deepseek-v3.2}
models:
  deepseek-v3.2: {}
routes:
  - {name: default, use: [local]}
"""


def _fill(path) -> SqliteLedger:
    """50 requests a second apart, requests 10, 20, .. failing on `local` before `deepseek` answers;
    requests 40 and 41 start at the same instant (ties are broken by request id, then attempt)."""
    ledger = SqliteLedger(path)
    writer = LedgerWriter(ledger)
    for i in range(50):
        started = START_S + min(i, 40)
        common = dict(key_name=("team-a", "team-b")[i % 2], route=("default", "cheap")[i % 3 == 0], started_at=started)
        attempt = 1
        if i % 10 == 0:
            writer.on_outcome(make_outcome(f"req_{i:03d}", backend="local", ok=False, status=503, **common))
            attempt = 2
        writer.on_outcome(make_outcome(f"req_{i:03d}", attempt=attempt, backend="deepseek", **common))
    asyncio.run(writer.flush())
    return ledger


@pytest.fixture(scope="module")
def ledger_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("usage") / "ledger.sqlite3"
    _fill(path).close()
    return path


@pytest.fixture
def ledger(ledger_file):
    opened = SqliteLedger(ledger_file, create=False)
    yield opened
    opened.close()


def _newest_first(ledger: SqliteLedger, match: UsageFilter = UsageFilter()) -> list[str]:
    records = [r for r in ledger.records() if _matches(r, match)]
    return [r.id for r in sorted(records, key=lambda r: (r.time, r.request_id, r.attempt), reverse=True)]


def _matches(record, match: UsageFilter) -> bool:
    return all(value is None or getattr(record, field) == value
               for field, value in (("key_name", match.key_name), ("backend", match.backend), ("route", match.route),
                                    ("status", match.status), ("ok", match.ok)))


def test_record_ids_round_trip_and_bad_ones_are_refused():
    assert str(RecordId("req_abc", 2)) == "req_abc:2"
    assert RecordId.parse("req_abc:2") == ("req_abc", 2)
    assert RecordId.parse("a:b:3") == ("a:b", 3)  # split at the last colon
    for bad in ("req_abc", "req_abc:", ":2", "req_abc:x", "req_abc:-1"):
        with pytest.raises(ValueError):
            RecordId.parse(bad)


def test_the_first_page_is_the_newest_records_with_ties_broken_by_request_id_then_attempt(ledger):
    page = ledger.page(limit=5)
    assert [r.id for r in page.records] == _newest_first(ledger)[:5]
    assert [r.id for r in page.records] == ["req_049:1", "req_048:1", "req_047:1", "req_046:1", "req_045:1"]
    assert page.has_more is True
    everything = ledger.page(limit=1000)
    assert len(everything.records) == 55 and everything.has_more is False
    assert everything.records[-2:][0].id == "req_000:2" and everything.records[-1].id == "req_000:1"


@pytest.mark.parametrize(
    "match",
    [UsageFilter(), UsageFilter(key_name="team-a"), UsageFilter(backend="local"), UsageFilter(route="cheap", ok=True),
     UsageFilter(status=200), UsageFilter(ok=True, key_name="team-b")],
    ids=["all", "key", "backend", "route-ok", "status", "ok-key"],
)
def test_paging_after_then_back_before_walks_every_record_once_in_both_directions(ledger, match):
    expected = _newest_first(ledger, match)
    assert len(expected) > 3  # several pages
    seen, cursor = [], None
    while True:
        page = ledger.page(match, after=cursor, limit=3)
        seen += [r.id for r in page.records]
        if not page.has_more:
            break
        cursor = RecordId.parse(page.records[-1].id)
    assert seen == expected  # no gap, no duplicate, newest first
    back, cursor = [seen[-1]], RecordId.parse(seen[-1])
    while True:  # from the oldest record back up to the newest, each page still newest first
        page = ledger.page(match, before=cursor, limit=3)
        back = [r.id for r in page.records] + back
        if not page.has_more:
            break
        cursor = RecordId.parse(page.records[0].id)
    assert back == expected


def test_a_cursor_marks_a_position_even_when_the_filter_leaves_it_out(ledger):
    newer = ledger.page(UsageFilter(key_name="team-a"), before=RecordId("req_043", 1), limit=100).records
    assert [r.id for r in newer] == ["req_048:1", "req_046:1", "req_044:1"]  # req_043 is team-b's


def test_an_unknown_cursor_is_an_error_not_an_empty_page(ledger):
    with pytest.raises(UnknownRecordError, match="req_999:1"):
        ledger.page(after=RecordId("req_999", 1))


# -- GET /admin/usage over a real gateway ----------------------------------------------------------

@pytest.fixture(scope="module")
def gateway(servers, ledger_file):
    return servers.gateway(POLICY, env={"SWITCHYARD_LEDGER_PATH": str(ledger_file), "SWITCHYARD_ADMIN_KEY": ADMIN_KEY})


def _usage(gateway, **params) -> httpx.Response:
    return httpx.get(f"{gateway.url}/admin/usage", params=params, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)


def test_admin_usage_pages_like_openais_list_endpoints(gateway, ledger):
    first = _usage(gateway, limit=4).json()
    assert set(first) == {"object", "data", "first_id", "last_id", "has_more", "ledger"}
    assert first["object"] == "list" and first["has_more"] is True
    ids = [r["id"] for r in first["data"]]
    assert ids == _newest_first(ledger)[:4] and (first["first_id"], first["last_id"]) == (ids[0], ids[-1])
    second = _usage(gateway, limit=4, after=first["last_id"]).json()
    assert [r["id"] for r in second["data"]] == _newest_first(ledger)[4:8]
    back = _usage(gateway, limit=4, before=second["first_id"]).json()
    assert [r["id"] for r in back["data"]] == ids and back["has_more"] is False


def test_admin_usage_keeps_its_filters_and_adds_backend_route_and_status(gateway, ledger):
    failed = _usage(gateway, backend="local", ok="false").json()["data"]
    assert [r["id"] for r in failed] == _newest_first(ledger, UsageFilter(backend="local"))
    assert all(r["status"] == 503 and not r["ok"] for r in failed) and len(failed) == 5
    assert {r["route"] for r in _usage(gateway, route="cheap").json()["data"]} == {"cheap"}
    assert {r["key_name"] for r in _usage(gateway, key="team-b", status=200).json()["data"]} == {"team-b"}
    until = _usage(gateway, since=START_S + 10, until=START_S + 12).json()["data"]
    assert [r["id"] for r in until] == ["req_011:1", "req_010:2", "req_010:1"]


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [({"after": "nope"}, "after", "is not a usage record id"),
     ({"before": "req_999:1"}, "before", "no usage record with id req_999:1"),
     ({"after": "req_001:1", "before": "req_002:1"}, "before", "not both"),
     ({"limit": 0}, "query.limit", None)],
    ids=["malformed", "unknown", "both", "limit"],
)
def test_bad_paging_parameters_get_a_400_naming_the_parameter(gateway, params, param, message):
    response = _usage(gateway, **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    if message:
        assert message in error["message"]


# -- gateway usage --tail N --------------------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "usage", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_usage_tail_prints_the_newest_records_with_the_newest_last(ledger_file, ledger):
    result = _cli("--tail", "3", "--db", str(ledger_file))
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["time", "id", "key", "route", "backend", "status", "prompt", "cached", "completion",
                              "cost_usd", "latency_ms"]
    assert [line.split()[1] for line in lines] == list(reversed(_newest_first(ledger)[:3]))
    as_json = json.loads(_cli("--tail", "2", "--db", str(ledger_file), "--json", "--backend", "local").stdout)
    assert [r["id"] for r in as_json] == ["req_030:1", "req_040:1"]
    assert all(r["backend"] == "local" and r["ok"] is False for r in as_json)


@pytest.mark.parametrize(("args", "message"), [(("--tail", "0"), "--tail must be between 1 and 10000"),
                                               (("--db", "/nonexistent/ledger.sqlite3"), "no ledger file there")])
def test_usage_tail_mistakes_are_one_line_and_exit_non_zero(args, message):
    result = _cli(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().startswith("gateway: error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
