"""`gateway usage --tail N`: the newest usage-ledger records, one line per upstream attempt."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gateway.cli import CliError

if TYPE_CHECKING:
    from gateway.ledger.record import UsageRecord

__all__ = ["register"]

DEFAULT_TAIL = 20
MAX_TAIL = 10_000
_HEADER = ("time", "id", "key", "route", "backend", "status", "prompt", "cached", "completion", "cost_usd", "latency_ms")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("usage", help="the newest usage-ledger records")
    p.add_argument("--tail", type=int, default=DEFAULT_TAIL, metavar="N",
                   help=f"show the newest N records, oldest of them first (default {DEFAULT_TAIL})")
    p.add_argument("--db", default=None, help="ledger file (env SWITCHYARD_LEDGER_PATH, default ~/.local/share/switchyard/ledger.sqlite3)")
    p.add_argument("--key", default=None, help="only this key's records (by name)")
    p.add_argument("--backend", default=None, help="only this backend's attempts")
    p.add_argument("--route", default=None, help="only requests of this route")
    p.add_argument("--json", action="store_true", help="print the records as a JSON array")
    p.set_defaults(func=run)


def _line(record: UsageRecord) -> tuple[str, ...]:
    return (
        record.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"), record.id, record.key_name or "-", record.route or "-",
        record.backend, str(record.status) + ("" if record.ok else f" {record.error_kind or 'failed'}"),
        str(record.prompt_tokens), str(record.cached_tokens), str(record.completion_tokens),
        "-" if record.cost_usd is None else f"{record.cost_usd:.9f}", f"{record.latency_ms:.1f}",
    )


def _table(records: list[UsageRecord]) -> str:
    lines = [_HEADER, *(_line(record) for record in records)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(_HEADER))]
    return "\n".join(" ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    import json

    from gateway.ledger.sqlite_sink import LedgerFileError, SqliteLedger, UsageFilter, ledger_path

    if not 1 <= args.tail <= MAX_TAIL:
        raise CliError(f"--tail must be between 1 and {MAX_TAIL}, got {args.tail}")
    try:
        ledger = SqliteLedger(ledger_path(args.db), create=False)
    except LedgerFileError as exc:
        raise CliError(str(exc)) from None
    try:
        page = ledger.page(UsageFilter(key_name=args.key, backend=args.backend, route=args.route), limit=args.tail)
    finally:
        ledger.close()
    records = list(reversed(page.records))  # as `tail` shows them: the newest last
    if args.json:
        sys.stdout.write(json.dumps([record.model_dump(mode="json") for record in records], indent=2) + "\n")
    elif records:
        sys.stdout.write(_table(records) + "\n")
    else:
        sys.stderr.write("no usage records match\n")
    return 0
