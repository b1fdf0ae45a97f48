"""The gateway's usage ledger (SQLite, table `usage`, one row per upstream attempt) read as a trace.

The planner reads the file with the standard library only (it never imports the gateway); the
columns used are those of gateway/ledger/record.py `COLUMNS`: `request_id`, `attempt`,
`started_at` (unix seconds), `key_name`, `streamed`, `ok`, `prompt_tokens`, `cached_tokens`,
`completion_tokens`, `reasoning_tokens`. A request arrives when its first attempt started; its
tokens are those of its successful attempt; requests no attempt answered are skipped (and counted).
`thinking` is true when the answer had reasoning tokens; the client's model name is not recorded,
so `model` is left to the reader (`gateway simulate --model`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from planner.trace.record import Trace, TraceError, TraceRecord

__all__ = ["read_ledger", "SQLITE_MAGIC"]

SQLITE_MAGIC = b"SQLite format 3\x00"
_QUERY = (
    "SELECT request_id, started_at, key_name, streamed, ok, prompt_tokens, cached_tokens, completion_tokens, "
    "reasoning_tokens FROM usage ORDER BY started_at, request_id, attempt"
)


def read_ledger(path: str | Path) -> Trace:
    """Every request the ledger at `path` recorded, in arrival order."""
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"{path}: no ledger file there")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute(_QUERY).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise TraceError(f"{path}: not a readable Switchyard ledger: {exc}") from None
    first_start: dict[str, float] = {}
    answered: dict[str, tuple] = {}
    order: list[str] = []
    for row in rows:
        request_id, started_at = row[0], row[1]
        if request_id not in first_start:
            first_start[request_id] = started_at
            order.append(request_id)
        if row[4]:
            answered[request_id] = row
    if not answered:
        raise TraceError(f"{path}: the ledger holds no answered request")
    start = min(first_start[r] for r in answered)
    records = []
    for request_id in order:
        row = answered.get(request_id)
        if row is None:
            continue
        _, _, key_name, streamed, _, prompt, cached, completion, reasoning = row
        records.append(TraceRecord(
            t=first_start[request_id] - start, input_tokens=prompt, output_tokens=completion,
            cached_tokens=min(cached, prompt), stream=bool(streamed), thinking=True if reasoning else None, key=key_name,
        ))
    records.sort(key=lambda record: record.t)
    skipped = len(order) - len(records)
    return Trace(records, f"{path} (ledger)", skipped=skipped,
                 skipped_reason="requests no attempt answered" if skipped else None)
