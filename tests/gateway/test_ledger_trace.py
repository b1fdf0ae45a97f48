"""A ledger the gateway wrote reads back as a trace: one request per request id, at its first attempt."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.ledger.record import UsageRecord
from gateway.ledger.sqlite_sink import SqliteLedger
from planner.trace import TraceError, read_trace


def _record(request_id: str, attempt: int, at_s: float, ok: bool, prompt: int = 0, completion: int = 0, **extra) -> UsageRecord:
    values = dict(
        request_id=request_id, attempt=attempt, time=datetime.fromtimestamp(at_s, UTC), key_name=None, route="default",
        backend="local", upstream_model="m", family=None, fallback_chain=["local"], streamed=False, ok=ok,
        status=200 if ok else 500, error_kind=None if ok else "server_error", prompt_tokens=prompt, cached_tokens=0,
        completion_tokens=completion, reasoning_tokens=0, cost_nano_usd=0, self_hosted_cost_nano_usd=None,
        ttft_ms=None, latency_ms=10.0,
    )
    values.update(extra)
    return UsageRecord(**values)


def test_each_answered_request_becomes_one_record_at_its_first_attempt(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.write([record.to_row() for record in (
        _record("a", 1, 1000.0, True, 500, 40, key_name="team-a", streamed=True, cached_tokens=128),
        _record("b", 1, 1001.5, False),
        _record("b", 2, 1001.6, True, 900, 70, reasoning_tokens=12),
        _record("c", 1, 1003.0, False),
    )])
    ledger.close()
    trace = read_trace(str(tmp_path / "ledger.sqlite3"))
    assert [(r.t, r.input_tokens, r.output_tokens) for r in trace.records] == [(0.0, 500, 40), (1.5, 900, 70)]
    first, second = trace.records
    assert (first.key, first.stream, first.cached_tokens, first.thinking) == ("team-a", True, 128, None)
    assert second.thinking is True
    assert trace.skipped == 1 and "no attempt answered" in (trace.skipped_reason or "")


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path):
    import sqlite3

    path = tmp_path / "other.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(TraceError, match="not a readable Switchyard ledger"):
        read_trace(str(path), "ledger")
