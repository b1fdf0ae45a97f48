"""How a benchmark script runs: progress on stderr, and every child stopped on Ctrl-C, SIGTERM or a failed start."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from benchmarks.harness.processes import ProcessStartError, stop_on_sigterm

__all__ = ["log", "run_script"]


def log(message: str) -> None:
    """One progress line on stderr (stdout carries only the results)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def run_script(name: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Call `run(args)`; a process that fails to start or an interruption is one line and an exit status."""
    stop_on_sigterm()
    try:
        return run(args)
    except ProcessStartError as exc:
        log(f"{name}: {exc}")
        return 1
    except KeyboardInterrupt:
        log(f"{name}: interrupted; all benchmark processes stopped")
        return 130
