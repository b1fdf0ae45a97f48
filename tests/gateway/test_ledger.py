"""The usage ledger: one row per attempt, buffered, durable on commit, via SQLite or a Redis stream."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import threading

import pytest
from accounting_fixtures import accounting_policy, closed_port, make_outcome, prefix, redis_client  # noqa: F401 - fixtures
from redis.asyncio import Redis

from backends.usage import Usage
from gateway.costing import AttemptCost, CostBook
from gateway.redis_connection import connect_redis
from gateway.ledger.record import ADDED_COLUMN_DEFAULTS
from gateway.ledger import COLUMNS, LedgerStream, LedgerWriter, SqliteLedger, UsageRecord, row_from_outcome


@pytest.fixture
def ledger(tmp_path):
    db = SqliteLedger(tmp_path / "ledger.sqlite3")
    yield db
    db.close()


async def test_every_attempt_is_written_once_with_its_fields(ledger):
    writer = LedgerWriter(ledger, costs=CostBook(accounting_policy()), batch_size=64)
    writer.start()
    for i in range(300):
        writer.on_outcome(make_outcome(f"req_{i}", prompt=12_000, cached=10_000, completion=3_000, reasoning=2_000))
    writer.on_outcome(make_outcome("req_0", attempt=2, backend="fireworks", ok=False))
    assert await writer.commit()
    await writer.close()
    assert ledger.count() == 301
    first, retry = ledger.records(limit=None)[0], [r for r in ledger.records() if r.attempt == 2][0]
    assert (first.key_name, first.route, first.backend, first.family) == ("team-a", "default", "deepseek", "deepseek-v3.2")
    assert (first.prompt_tokens, first.cached_tokens, first.completion_tokens, first.reasoning_tokens) == (12_000, 10_000, 3_000, 2_000)
    assert first.cost_nano_usd == 2_100_000 and first.cost_usd == pytest.approx(0.0021)
    assert (retry.ok, retry.status, retry.error_kind, retry.cost_nano_usd) == (False, 500, "server_error", None)


async def test_the_thinking_need_and_its_source_are_recorded_per_attempt(ledger):
    writer = LedgerWriter(ledger)
    writer.on_outcome(dataclasses.replace(make_outcome("req_on"), thinking=True, thinking_source="detected"))
    writer.on_outcome(dataclasses.replace(make_outcome("req_off"), thinking=False, thinking_source="body"))
    writer.on_outcome(make_outcome("req_none"))
    await writer.flush()
    seen = {r.request_id: (r.thinking, r.thinking_source) for r in ledger.records()}
    assert seen == {"req_on": (True, "detected"), "req_off": (False, "body"), "req_none": (None, None)}
    assert all(UsageRecord.from_row(r.to_row()) == r for r in ledger.records())


async def test_rows_round_trip_through_the_record_model(ledger):
    writer = LedgerWriter(ledger, costs=CostBook(accounting_policy()))
    writer.on_outcome(make_outcome("req_x", backend="local", prompt=100, completion=50))
    await writer.flush()
    record = ledger.records()[0]
    assert UsageRecord.from_row(record.to_row()) == record
    assert record.fallback_chain == ["local"] and record.self_hosted_cost_nano_usd is not None
    assert "sk-" not in record.model_dump_json()


async def test_an_estimated_usage_is_flagged_in_its_record_and_others_are_not(ledger):
    writer = LedgerWriter(ledger)
    writer.on_outcome(make_outcome("req_reported"))
    writer.on_outcome(dataclasses.replace(make_outcome("req_estimated"), usage=Usage(prompt_tokens=40, completion_tokens=3,
                                                                                     estimated=True)))
    await writer.flush()
    flags = {record.request_id: record.usage_estimated for record in ledger.records()}
    assert flags == {"req_reported": False, "req_estimated": True}


def test_a_ledger_file_from_before_the_added_columns_gets_them_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    old_columns = [column for column in COLUMNS if column not in ADDED_COLUMN_DEFAULTS]
    db.execute(f"CREATE TABLE usage ({', '.join(old_columns)}, PRIMARY KEY (request_id, attempt)) WITHOUT ROWID")
    db.execute(f"INSERT INTO usage VALUES ({', '.join('?' * len(old_columns))})",
               ("req_old", 1, 1_764_000_000.0, None, None, "local", "m", None, "local", 0, 1, 200, None,
                10, 0, 5, 0, 100, None, None, 12.0))
    db.commit()
    db.close()
    ledger = SqliteLedger(path, create=False)
    [record] = ledger.records()
    assert (record.request_id, record.completion_tokens, record.usage_estimated, record.protocol) == ("req_old", 5, False, None)
    assert (record.thinking, record.thinking_source) == (None, None)
    ledger.close()


async def test_commit_returns_only_after_the_rows_are_in_sqlite(ledger):
    writer = LedgerWriter(ledger, flush_interval_s=60.0)  # only commit() can trigger the write
    writer.start()
    writer.on_outcome(make_outcome("req_a"))
    assert ledger.count() == 0
    assert await writer.commit()
    assert ledger.count() == 1
    await writer.close()


async def test_writing_a_batch_twice_stores_it_once(ledger):
    writer = LedgerWriter(ledger)
    writer.on_outcome(make_outcome("req_a"))
    await writer.flush()
    assert ledger.write([ledger.records()[0].to_row()]) == 0
    assert ledger.count() == 1


@pytest.mark.redis
async def test_a_stream_entry_from_before_usage_estimated_is_drained_with_the_flag_off(ledger, redis_client: Redis,
                                                                                    prefix: str):
    stream = LedgerStream(redis_client, key=prefix + "ledger", consumer="replica-1")
    row = row_from_outcome(make_outcome("req_old"), AttemptCost(None, None), None)
    await stream.append([row[: COLUMNS.index("usage_estimated")]])  # an older gateway's shorter row
    assert await stream.drain(ledger, asyncio.to_thread) == 1
    [record] = ledger.records()
    assert (record.request_id, record.usage_estimated) == ("req_old", False)


@pytest.mark.redis
async def test_a_stream_entry_from_before_the_thinking_columns_is_drained_with_them_unset(ledger, redis_client: Redis,
                                                                                      prefix: str):
    stream = LedgerStream(redis_client, key=prefix + "ledger", consumer="replica-1")
    outcome = dataclasses.replace(make_outcome("req_old"), thinking=True, thinking_source="detected")
    row = row_from_outcome(outcome, AttemptCost(None, None), None)
    await stream.append([row[: COLUMNS.index("thinking")]])  # a gateway from before this release
    assert await stream.drain(ledger, asyncio.to_thread) == 1
    [record] = ledger.records()
    assert (record.request_id, record.thinking, record.thinking_source) == ("req_old", None, None)


@pytest.mark.redis
async def test_with_redis_records_go_to_the_stream_and_the_drainer_moves_them(ledger, redis_client: Redis, prefix: str):
    stream = LedgerStream(redis_client, key=prefix + "ledger", consumer="replica-1")
    writer = LedgerWriter(ledger, stream=stream, flush_interval_s=60.0)
    writer.start()
    for i in range(50):
        writer.on_outcome(make_outcome(f"req_{i}"))
    assert await writer.commit()
    assert await stream.length() == 50 and ledger.count() == 0
    assert await writer.drain() == 50
    assert await stream.length() == 0 and ledger.count() == 50
    await writer.close()


@pytest.mark.redis
async def test_entries_pending_on_a_dead_drainer_are_claimed_and_stored_once(ledger, redis_client: Redis, prefix: str):
    dead = LedgerStream(redis_client, key=prefix + "ledger", consumer="dead")
    writer = LedgerWriter(ledger, stream=dead)
    for i in range(10):
        writer.on_outcome(make_outcome(f"req_{i}"))
    await writer.flush()
    await dead._ensure_group()
    # the dead drainer read the entries and wrote half of them to SQLite, then died before XACK
    read = await redis_client.xreadgroup("ledger", "dead", {prefix + "ledger": ">"}, count=100)
    assert len(read[0][1]) == 10
    half = LedgerWriter(ledger)
    for i in range(5):
        half.on_outcome(make_outcome(f"req_{i}"))
    await half.flush()
    survivor = LedgerStream(redis_client, key=prefix + "ledger", consumer="survivor", claim_idle_ms=0)
    assert await survivor.drain(ledger, writer.run_in_thread) == 10
    assert ledger.count() == 10 and await survivor.length() == 0
    await writer.close()
    await half.close()


async def test_redis_down_sends_batches_to_sqlite_and_warns_once(ledger, caplog):
    dead = connect_redis(f"redis://127.0.0.1:{closed_port()}/0")
    writer = LedgerWriter(ledger, stream=LedgerStream(dead, key="x:ledger", consumer="c"))
    with caplog.at_level(logging.WARNING, logger="switchyard.ledger"):
        for i in range(3):
            writer.on_outcome(make_outcome(f"req_{i}"))
            assert await writer.commit()
    assert ledger.count() == 3
    assert len([r for r in caplog.records if "Redis stream unavailable" in r.message]) == 1
    await writer.close()
    await dead.aclose()


class _GatedLedger:
    """A SqliteLedger whose writes wait for `release` (set from the test), counting the batches written."""

    def __init__(self, ledger: SqliteLedger) -> None:
        self.ledger, self.path = ledger, ledger.path
        self.entered, self.release = threading.Event(), threading.Event()
        self.batches: list[int] = []

    def write(self, rows):
        self.entered.set()
        self.release.wait(10)
        self.batches.append(len(rows))
        return self.ledger.write(rows)

    def close(self) -> None:
        self.ledger.close()


async def test_commits_arriving_while_a_batch_is_written_share_the_next_commit(ledger):
    gated = _GatedLedger(ledger)
    writer = LedgerWriter(gated, flush_interval_s=60.0)  # type: ignore[arg-type]
    writer.start()
    writer.on_outcome(make_outcome("req_first"))
    first = asyncio.ensure_future(writer.commit())
    while not gated.entered.is_set():  # polled: the first batch is being written (held by the gate)
        await asyncio.sleep(0.005)
    later = []
    for i in range(5):
        writer.on_outcome(make_outcome(f"req_{i}"))
        later.append(asyncio.ensure_future(writer.commit()))
    gated.release.set()
    assert await first and all(await asyncio.gather(*later))
    assert gated.batches == [1, 5]  # group commit: five responses, one write
    assert ledger.count() == 6
    await writer.close()


async def test_a_row_nobody_commits_is_written_after_the_flush_interval(ledger):
    writer = LedgerWriter(ledger, flush_interval_s=0.05)
    writer.start()
    writer.on_outcome(make_outcome("req_abandoned"))  # e.g. a client that left: no commit() waits for it
    for _ in range(500):  # polled; the flush timer fires after 0.05 s
        if writer.durable:
            break
        await asyncio.sleep(0.01)
    assert writer.durable == 1 and ledger.count() == 1
    await writer.close()


async def test_a_failing_write_keeps_the_rows_and_commit_gives_up_after_its_timeout(ledger, caplog):
    class Broken:
        path = ledger.path

        def write(self, rows):
            raise OSError("disk full")

        def close(self) -> None:
            pass

    writer = LedgerWriter(Broken(), flush_interval_s=0.05)  # type: ignore[arg-type]
    writer.start()
    writer.on_outcome(make_outcome("req_a"))
    with caplog.at_level(logging.WARNING, logger="switchyard.ledger"):
        assert await writer.commit(timeout_s=0.2) is False
    assert writer.durable == 0 and writer.appended == 1
    assert any("not yet durable" in r.message for r in caplog.records)
    writer.ledger = ledger  # the disk is back: the kept row is written by the next flush
    assert await writer.commit()
    assert ledger.count() == 1
    await writer.close()
