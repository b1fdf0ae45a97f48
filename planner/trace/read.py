"""Read a trace from a file or stdin, in whichever format it is: JSONL, Azure/BurstGPT CSV, or a ledger."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Literal

from planner.trace.jsonl import parse_jsonl
from planner.trace.ledger import SQLITE_MAGIC, read_ledger
from planner.trace.public_csv import parse_csv
from planner.trace.record import Trace, TraceError

__all__ = ["read_trace", "TRACE_FORMATS", "TraceFormat"]

TraceFormat = Literal["auto", "jsonl", "csv", "ledger"]
TRACE_FORMATS: tuple[str, ...] = ("auto", "jsonl", "csv", "ledger")


def _is_sqlite(file: Path) -> bool:
    if not file.is_file():
        return False
    with file.open("rb") as handle:
        return handle.read(16) == SQLITE_MAGIC


def _detect(head: bytes) -> str:
    if head.startswith(SQLITE_MAGIC):
        return "ledger"
    first = head.lstrip()[:1]
    return "jsonl" if first in (b"{", b"") else "csv"


def read_trace(path: str, kind: TraceFormat = "auto") -> Trace:
    """The trace in `path` (`-` reads stdin); `auto` tells a ledger, JSONL and CSV apart by content."""
    if path == "-":
        data = sys.stdin.buffer.read()
        source = "<stdin>"
        if kind == "ledger" or data.startswith(SQLITE_MAGIC):
            raise TraceError("<stdin>: a ledger must be read from its file (--from-ledger FILE)")
    else:
        file = Path(path)
        if kind == "ledger" or (kind == "auto" and _is_sqlite(file)):
            return read_ledger(file)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise TraceError(f"{path}: cannot read the trace: {exc.strerror or exc}") from None
        source = path
    if kind == "auto":
        kind = _detect(data[:4096])  # type: ignore[assignment]
    if kind == "csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TraceError(f"{source}: not UTF-8 text") from None
        trace = parse_csv(io.StringIO(text), source)
    else:
        records = parse_jsonl(data.splitlines(), source)
        if not records:
            raise TraceError(f"{source}: no requests")
        records.sort(key=lambda record: record.t)
        trace = Trace(records, source)
    return trace
