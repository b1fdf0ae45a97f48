"""The ledger's SQLite file (WAL): batched idempotent inserts, and the reads `spend` and `/admin` need.

Every method blocks on file I/O: call them from a worker thread (the writer uses its own
single thread), never on the event loop. Rows are keyed by (request_id, attempt) and inserted
with INSERT OR IGNORE, so a batch written twice (a drainer killed between its SQLite commit and
its stream acknowledgement) is stored once.

Durability: WAL with `synchronous=NORMAL` makes a committed batch survive the gateway process
being killed (the WAL write is in the OS before COMMIT returns); only a power loss or kernel
crash can lose the last transactions (sqlite.org/wal.html, "Durability"). Use `synchronous="FULL"`
to fsync on every commit.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.data_dir import data_dir
from gateway.ledger.record import COLUMNS, RecordId, Row, UsageRecord

__all__ = ["LEDGER_FILE_NAME", "LEDGER_PATH_ENV", "SqliteLedger", "LedgerFileError", "UnknownRecordError", "UsageFilter",
           "UsagePage", "ledger_path"]

LEDGER_FILE_NAME = "ledger.sqlite3"
LEDGER_PATH_ENV = "SWITCHYARD_LEDGER_PATH"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    request_id TEXT NOT NULL, attempt INTEGER NOT NULL, started_at REAL NOT NULL,
    key_name TEXT, route TEXT, backend TEXT NOT NULL, upstream_model TEXT NOT NULL, family TEXT,
    fallback_chain TEXT NOT NULL, streamed INTEGER NOT NULL, ok INTEGER NOT NULL, status INTEGER NOT NULL,
    error_kind TEXT, prompt_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
    cost_nano_usd INTEGER, self_hosted_cost_nano_usd INTEGER, ttft_ms REAL, latency_ms REAL NOT NULL,
    usage_estimated INTEGER NOT NULL DEFAULT 0, protocol TEXT, thinking INTEGER, thinking_source TEXT,
    PRIMARY KEY (request_id, attempt)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS usage_started_at ON usage (started_at);
"""
_ADDED_COLUMNS = (
    ("usage_estimated", "INTEGER NOT NULL DEFAULT 0"), ("protocol", "TEXT"), ("thinking", "INTEGER"), ("thinking_source", "TEXT"),
)
"""Columns added since the first release: ledger files written before them get them on open."""
_INSERT = f"INSERT OR IGNORE INTO usage ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM usage"


def ledger_path(explicit: str | Path | None = None) -> Path:
    """The ledger file: `explicit`, else $SWITCHYARD_LEDGER_PATH, else the data directory's ledger.sqlite3."""
    return Path(explicit or os.environ.get(LEDGER_PATH_ENV) or data_dir() / LEDGER_FILE_NAME)


class LedgerFileError(Exception):
    """The ledger file cannot be opened or is not a Switchyard ledger."""


class UnknownRecordError(LookupError):
    """A paging cursor names a record the ledger does not hold."""


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which records to list; None matches everything. Times are unix seconds, [since_s, until_s)."""

    since_s: float | None = None
    until_s: float | None = None
    key_name: str | None = None
    backend: str | None = None
    route: str | None = None
    status: int | None = None
    ok: bool | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        """SQL conditions and their parameters."""
        clauses, params = [], []
        for clause, value in (("started_at >= ?", self.since_s), ("started_at < ?", self.until_s),
                              ("key_name = ?", self.key_name), ("backend = ?", self.backend), ("route = ?", self.route),
                              ("status = ?", self.status), ("ok = ?", None if self.ok is None else int(self.ok))):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return clauses, params


@dataclass(frozen=True, slots=True)
class UsagePage:
    """Records newest first, and whether more lie beyond them in the direction paged."""

    records: list[UsageRecord]
    has_more: bool


class SqliteLedger:
    """One SQLite ledger file; thread-safe (one connection behind a lock)."""

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL", create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise LedgerFileError(f"{self.path}: no ledger file there")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
        except sqlite3.DatabaseError as exc:
            raise LedgerFileError(f"{self.path}: not a usable ledger: {exc}") from None
        except OSError as exc:
            raise LedgerFileError(f"{self.path}: cannot create the ledger: {exc.strerror or exc}") from None
        self._lock = threading.Lock()

    def _add_missing_columns(self) -> None:
        present = {row[1] for row in self._db.execute("PRAGMA table_info(usage)")}
        for name, definition in _ADDED_COLUMNS:
            if name not in present:
                try:
                    self._db.execute(f"ALTER TABLE usage ADD COLUMN {name} {definition}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # another process (a --workers sibling) added it first
                        raise

    def write(self, rows: Sequence[Row]) -> int:
        """Insert `rows` in one transaction; returns how many were new."""
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_INSERT, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return self._db.total_changes - before

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (used by the spend report)."""
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def records(self, *, since_s: float | None = None, until_s: float | None = None, key_name: str | None = None,
                limit: int | None = None) -> list[UsageRecord]:
        """Records in start-time order, optionally within [since_s, until_s) and for one key."""
        where, params = UsageFilter(since_s=since_s, until_s=until_s, key_name=key_name).where()
        sql = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY started_at, request_id, attempt"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [UsageRecord.from_row(row) for row in self.query(sql, params)]

    def page(self, match: UsageFilter = UsageFilter(), *, after: RecordId | None = None, before: RecordId | None = None,
             limit: int = 20) -> UsagePage:
        """Up to `limit` matching records, newest first (by start time, then request id and attempt),
        paged as OpenAI's list endpoints page: `after` a record id gives the records older than it
        (the next page), `before` one the records newer than it (the previous page, still newest
        first). `has_more`: more match beyond the page in the direction paged (older without a
        cursor or with `after`, newer with `before`). Raises UnknownRecordError for a cursor
        the ledger does not hold. A cursor need not match the filter: it only marks a position.
        """
        if after is not None and before is not None:
            raise ValueError("page with after or before, not both")
        where, params = match.where()
        cursor = after or before
        if cursor is not None:
            found = self.query("SELECT started_at FROM usage WHERE request_id = ? AND attempt = ?", cursor)
            if not found:
                raise UnknownRecordError(f"no usage record with id {cursor}")
            # started_at first on its own, so SQLite walks the started_at index from the cursor
            where.append("started_at <= ?" if after else "started_at >= ?")
            where.append("(started_at, request_id, attempt) < (?, ?, ?)" if after else "(started_at, request_id, attempt) > (?, ?, ?)")
            params += [found[0][0], found[0][0], *cursor]
        direction = "ASC" if before is not None else "DESC"
        sql = (_SELECT + (f" WHERE {' AND '.join(where)}" if where else "")
               + f" ORDER BY started_at {direction}, request_id {direction}, attempt {direction} LIMIT ?")
        rows = self.query(sql, [*params, limit + 1])
        records = [UsageRecord.from_row(row) for row in rows[:limit]]
        if before is not None:
            records.reverse()
        return UsagePage(records=records, has_more=len(rows) > limit)

    def count(self) -> int:
        return self.query("SELECT COUNT(*) FROM usage")[0][0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
