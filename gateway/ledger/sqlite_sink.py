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
from pathlib import Path
from typing import Any

from gateway.data_dir import data_dir
from gateway.ledger.record import COLUMNS, Row, UsageRecord

__all__ = ["LEDGER_FILE_NAME", "LEDGER_PATH_ENV", "SqliteLedger", "LedgerFileError", "ledger_path"]

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
    usage_estimated INTEGER NOT NULL DEFAULT 0, protocol TEXT,
    PRIMARY KEY (request_id, attempt)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS usage_started_at ON usage (started_at);
"""
_ADDED_COLUMNS = (("usage_estimated", "INTEGER NOT NULL DEFAULT 0"), ("protocol", "TEXT"))
"""Columns added since the first release: ledger files written before them get them on open."""
_INSERT = f"INSERT OR IGNORE INTO usage ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM usage"


def ledger_path(explicit: str | Path | None = None) -> Path:
    """The ledger file: `explicit`, else $SWITCHYARD_LEDGER_PATH, else the data directory's ledger.sqlite3."""
    return Path(explicit or os.environ.get(LEDGER_PATH_ENV) or data_dir() / LEDGER_FILE_NAME)


class LedgerFileError(Exception):
    """The ledger file cannot be opened or is not a Switchyard ledger."""


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
        where, params = [], []
        for clause, value in (("started_at >= ?", since_s), ("started_at < ?", until_s), ("key_name = ?", key_name)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY started_at, request_id, attempt"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [UsageRecord.from_row(row) for row in self.query(sql, params)]

    def count(self) -> int:
        return self.query("SELECT COUNT(*) FROM usage")[0][0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
