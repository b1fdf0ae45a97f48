"""A gateway SIGKILLed mid-load loses no ledger record whose completion was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from accounting_fixtures import ROOT, prefix  # noqa: F401 - fixture

from gateway.ledger import LedgerStream, LedgerWriter, SqliteLedger
from gateway.redis_connection import connect_redis

WORKER = Path(__file__).with_name("ledger_crash_worker.py")
ACKS_BEFORE_KILL = 400
READ_TIMEOUT_S = 60.0  # backstop


def _run_and_kill(args: list[str]) -> set[str]:
    """Start the worker, read acknowledgements until ACKS_BEFORE_KILL, SIGKILL it, return what it acked."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{WORKER.parent}"}
    process = subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    acked: set[str] = set()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            acked.add(line.decode().split()[1])
            if len(acked) >= ACKS_BEFORE_KILL:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=READ_TIMEOUT_S)
    if len(acked) < ACKS_BEFORE_KILL:
        pytest.fail(f"worker stopped after {len(acked)} acks: {process.stderr.read().decode()[-2000:]}")
    for line in process.stdout:  # acknowledgements already in the pipe when the kill landed
        acked.add(line.decode().split()[1])
    return acked


def _stored(ledger: SqliteLedger) -> dict[str, int]:
    rows = ledger.query("SELECT request_id, COUNT(*) FROM usage GROUP BY request_id")
    return dict(rows)


def _expected_attempts(request_id: str) -> int:
    return 2 if int(request_id.rsplit("_", 1)[1]) % 3 == 0 else 1


def test_sqlite_only_writer_killed_mid_load_keeps_every_acknowledged_record(tmp_path):
    db = tmp_path / "ledger.sqlite3"
    acked = _run_and_kill([str(db)])
    ledger = SqliteLedger(db)
    stored = _stored(ledger)
    ledger.close()
    assert acked <= set(stored)
    assert all(stored[r] == _expected_attempts(r) for r in acked)


@pytest.mark.redis
async def test_redis_stream_writer_killed_mid_load_keeps_every_acknowledged_record_after_drain(tmp_path, redis_url, prefix):
    db = tmp_path / "ledger.sqlite3"
    acked = _run_and_kill([str(db), redis_url, prefix])
    client = connect_redis(redis_url)
    ledger = SqliteLedger(db)
    writer = LedgerWriter(ledger, stream=LedgerStream(client, key=f"{prefix}ledger", consumer="restarted", claim_idle_ms=0))
    await writer.drain()
    await writer.close()
    stored = _stored(ledger)
    assert await client.xlen(f"{prefix}ledger") == 0
    await client.aclose()
    ledger.close()
    assert acked <= set(stored)
    assert all(stored[r] == _expected_attempts(r) for r in acked)
