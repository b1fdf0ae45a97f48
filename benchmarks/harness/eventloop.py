"""Run the benchmarks' asyncio code on uvloop when it is installed (as the gateway itself does)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["run_blocking"]

_T = TypeVar("_T")


def run_blocking(main: Callable[[], Awaitable[_T]]) -> _T:
    """Run `main()` to completion on a fresh uvloop (or default asyncio) event loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())  # type: ignore[arg-type]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())  # type: ignore[arg-type]
