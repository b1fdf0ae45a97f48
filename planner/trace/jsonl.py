"""Traces as JSONL: one `TraceRecord` object per line (see planner.trace.record for the keys)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO

from pydantic import TypeAdapter, ValidationError

from planner.trace.record import TraceError, TraceRecord

__all__ = ["parse_jsonl", "write_jsonl"]

_RECORD = TypeAdapter(TraceRecord)


def _problem(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "unexpected_keyword_argument":
        return f"unknown key '{where}'"
    return f"{where}: {message}" if where else message


def parse_jsonl(lines: Iterable[bytes], source: str) -> list[TraceRecord]:
    """Records of JSONL `lines` (blank lines skipped); a bad line raises `TraceError("SOURCE:LINE: why")`."""
    records: list[TraceRecord] = []
    validate = _RECORD.validate_json
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(validate(line))
        except ValidationError as exc:
            if exc.errors()[0]["type"] == "json_invalid":
                raise TraceError(f"{source}:{number}: not a JSON object") from None
            raise TraceError(f"{source}:{number}: {_problem(exc)}") from None
    return records


def write_jsonl(records: Iterable[TraceRecord], out: IO[str]) -> int:
    """Write one line per record; returns how many."""
    count = 0
    dumps = json.dumps
    for record in records:
        out.write(dumps(record.to_json_dict(), separators=(",", ":")) + "\n")
        count += 1
    return count

