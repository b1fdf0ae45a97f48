"""The public LLM-serving trace formats teams already have, read as traces.

- Azure LLM inference traces (Azure/AzurePublicDataset, AzureLLMInferenceDataset2023.md and the
  2024 DynamoLLM release): CSV `TIMESTAMP,ContextTokens,GeneratedTokens`, the timestamp a
  wall-clock time such as `2023-11-16 18:15:46.6805900`;
- BurstGPT (HPMLL/BurstGPT, arXiv 2401.17644): CSV `Timestamp,Model,Request tokens,Response tokens,
  Total tokens,Log Type` (some releases add `Session ID` and `Elapsed time`), the timestamp in
  seconds. Rows with 0 response tokens are failed requests there and are skipped (and counted).
Formats checked 2026-12-04. Times become seconds from the first request.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime

from planner.trace.record import Trace, TraceError, TraceRecord

__all__ = ["AZURE_COLUMNS", "BURSTGPT_COLUMNS", "csv_kind", "parse_csv"]

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
BURSTGPT_COLUMNS = ("Timestamp", "Request tokens", "Response tokens")


def csv_kind(header: list[str]) -> str | None:
    """`azure` or `burstgpt` by the header row; None for anything else."""
    names = {name.strip() for name in header}
    if set(AZURE_COLUMNS) <= names:
        return "azure"
    if set(BURSTGPT_COLUMNS) <= names:
        return "burstgpt"
    return None


def _int(value: str, column: str, where: str) -> int:
    try:
        number = int(float(value))
    except ValueError:
        raise TraceError(f"{where}: {column} {value!r} is not a number") from None
    if number < 0:
        raise TraceError(f"{where}: {column} must not be negative, got {number}")
    return number


def _seconds(value: str, kind: str, where: str) -> float:
    try:
        if kind == "azure":
            return datetime.fromisoformat(value.strip()).timestamp()
        return float(value)
    except ValueError:
        raise TraceError(f"{where}: timestamp {value!r} is not a {'date-time' if kind == 'azure' else 'number'}") from None


def parse_csv(lines: Iterable[str], source: str) -> Trace:
    """An Azure or BurstGPT CSV as a trace; TraceError names the file and line of a bad row."""
    reader = csv.reader(lines)
    header = next(reader, None)
    kind = csv_kind(header or [])
    if kind is None:
        expected = f"{','.join(AZURE_COLUMNS)} (Azure) or {','.join(BURSTGPT_COLUMNS)}, ... (BurstGPT)"
        raise TraceError(f"{source}:1: unknown CSV header; expected {expected}")
    columns = {name.strip(): index for index, name in enumerate(header or [])}
    time_col, in_col, out_col = AZURE_COLUMNS if kind == "azure" else BURSTGPT_COLUMNS
    rows: list[tuple[float, int, int]] = []
    skipped = 0
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        where = f"{source}:{number}"
        try:
            stamp, prompt, output = row[columns[time_col]], row[columns[in_col]], row[columns[out_col]]
        except IndexError:
            raise TraceError(f"{where}: {len(row)} columns, the header has {len(columns)}") from None
        tokens_out = _int(output, out_col, where)
        if kind == "burstgpt" and tokens_out == 0:
            skipped += 1
            continue
        rows.append((_seconds(stamp, kind, where), _int(prompt, in_col, where), tokens_out))
    if not rows:
        raise TraceError(f"{source}: no requests")
    rows.sort(key=lambda row: row[0])
    start = rows[0][0]
    records = [TraceRecord(t=at - start, input_tokens=prompt, output_tokens=out) for at, prompt, out in rows]
    reason = "BurstGPT rows with 0 response tokens (failed requests)" if skipped else None
    return Trace(records, f"{source} ({kind})", skipped=skipped, skipped_reason=reason)
