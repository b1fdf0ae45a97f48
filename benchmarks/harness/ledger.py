"""Does the gateway's usage ledger hold exactly one record per upstream attempt?

The benchmark points the gateway's ledger at a file of its own (SWITCHYARD_LEDGER_PATH), stops
the gateway (SIGTERM flushes the ledger) and reads the file with `gateway spend --json --db`,
whose total counts `attempts` (one record each) and `requests`. Upstream attempts come from the
emulators' own request counters (`GET /_emulator/stats`). A checkout without a ledger, or with
emulators that count nothing, gets a line saying what could not be seen instead of a guess.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from benchmarks.harness.processes import LOOPBACK, ManagedProcess
from benchmarks.harness.stack import ROOT

__all__ = ["LEDGER_PATH_ENV", "LedgerCheck", "check_ledger", "read_upstream_attempts"]

LEDGER_PATH_ENV = "SWITCHYARD_LEDGER_PATH"
_ATTEMPT_COUNTER_KEYS = ("requests_received", "requests_total", "requests")


class LedgerCheck(BaseModel):
    """What the ledger holds against what the upstreams saw."""

    available: bool
    records: int | None = None
    requests_recorded: int | None = None
    upstream_attempts: int | None = None
    one_record_per_attempt: bool | None = None
    summary: str


def _get_json(port: int, path: str) -> Any | None:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return json.loads(body) if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()


def read_upstream_attempts(emulators: list[ManagedProcess]) -> int | None:
    """Requests the emulators received, summed; None when any of them keeps no such counter."""
    total = 0
    for emulator in emulators:
        stats = _get_json(emulator.port, "/_emulator/stats")
        if not isinstance(stats, dict):
            return None
        counter = next((stats[k] for k in _ATTEMPT_COUNTER_KEYS if isinstance(stats.get(k), int)), None)
        if counter is None:
            return None
        total += counter
    return total


def _spend_totals(ledger_file: Path) -> dict[str, Any] | None:
    """`gateway spend --json --db FILE`'s total row, or None without a ledger or that command."""
    if not ledger_file.exists():
        return None
    argv = [sys.executable, "-m", "gateway.cli", "spend", "--json", "--db", str(ledger_file)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        return None
    try:
        total = json.loads(done.stdout).get("total")
    except (ValueError, AttributeError):
        return None
    return total if isinstance(total, dict) and isinstance(total.get("attempts"), int) else None


def check_ledger(ledger_file: Path, upstream_attempts: int | None) -> LedgerCheck:
    """Compare the (flushed) ledger file with the upstream attempts counted before the gateway stopped."""
    total = _spend_totals(ledger_file)
    if total is None:
        return LedgerCheck(available=False, upstream_attempts=upstream_attempts,
                           summary="not available (the gateway wrote no ledger that `gateway spend --json` can read)")
    records, requests = total["attempts"], total.get("requests")
    if upstream_attempts is None:
        return LedgerCheck(available=True, records=records, requests_recorded=requests,
                           summary=f"{records} attempt records for {requests} requests; upstream attempts not countable "
                                   "(the emulators expose no request counter)")
    matches = records == upstream_attempts
    verdict = "exactly one record per upstream attempt" if matches else f"MISMATCH ({records - upstream_attempts:+d} records)"
    return LedgerCheck(available=True, records=records, requests_recorded=requests, upstream_attempts=upstream_attempts,
                       one_record_per_attempt=matches, summary=f"{records} records for {upstream_attempts} upstream attempts: {verdict}")
