"""`gateway spend`: the usage ledger summed by day, backend, key, route or thinking source, with savings."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from gateway.cli import CliError

if TYPE_CHECKING:
    from gateway.ledger.spend import SpendReport

__all__ = ["register"]

GROUPS = ("day", "backend", "key", "route", "protocol", "thinking")
_COLUMNS = (
    ("requests", "requests", "d"), ("attempts", "attempts", "d"), ("prompt_tokens", "prompt", "d"),
    ("cached_tokens", "cached", "d"), ("completion_tokens", "completion", "d"), ("reasoning_tokens", "reasoning", "d"),
    ("cost_usd", "cost_usd", ".9f"), ("self_hosted_cost_usd", "self_hosted_usd", ".9f"),
    ("total_usd", "total_usd", ".9f"), ("baseline_usd", "cheapest_managed_usd", ".9f"), ("savings_usd", "savings_usd", ".9f"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("spend", help="tokens and dollars from the usage ledger")
    p.add_argument("--by", choices=GROUPS, default="backend", help="group by (default backend); thinking: by what decided the thinking need (detected/on, body/off, ...)")
    p.add_argument("--db", default=None, help="ledger file (env SWITCHYARD_LEDGER_PATH, default ~/.local/share/switchyard/ledger.sqlite3)")
    p.add_argument("--since", default=None, help="first day to include, YYYY-MM-DD (UTC)")
    p.add_argument("--until", default=None, help="first day to leave out, YYYY-MM-DD (UTC)")
    p.add_argument("--prices", default=None, help="managed price overrides YAML for the savings baseline")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def _day_start_s(text: str | None, flag: str) -> float | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{flag} {text!r}: expected a date as YYYY-MM-DD") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _table(report: SpendReport) -> str:
    header = ["group", *(title for _, title, _ in _COLUMNS)]
    lines = [[row.group, *(format(getattr(row, field), fmt) for field, _, fmt in _COLUMNS)] for row in [*report.rows, report.total]]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    out = [" ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
           for line in [header, *lines]]
    out.insert(len(out) - 1, "-" * len(out[0]))
    for choice in report.baselines:
        out.append(f"savings baseline for {choice.family}: {choice.provider} {choice.model_id} "
                   f"({choice.input_usd_per_mtok:g} / {choice.cached_input_usd_per_mtok if choice.cached_input_usd_per_mtok is not None else '-'}"
                   f" cached / {choice.output_usd_per_mtok:g} USD per Mtok; {choice.source})")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from gateway.ledger.spend import spend_report
    from gateway.ledger.sqlite_sink import LedgerFileError, SqliteLedger, ledger_path
    from planner.errors import PlannerInputError

    since_s, until_s = _day_start_s(args.since, "--since"), _day_start_s(args.until, "--until")
    path = ledger_path(args.db)
    try:
        ledger = SqliteLedger(path, create=False)
    except LedgerFileError as exc:
        raise CliError(str(exc)) from None
    try:
        report = spend_report(ledger, args.by, since_s=since_s, until_s=until_s, prices_path=args.prices)
    except PlannerInputError as exc:
        raise CliError(str(exc)) from None
    finally:
        ledger.close()
    sys.stdout.write(report.model_dump_json(indent=2) + "\n" if args.json else _table(report) + "\n")
    return 0
