"""Headless Chromium for the console's browser tests: Debian's `chromium` driven by Playwright.

Without Chromium or Playwright the tests skip, saying which is missing; under CI=true they fail
instead (`.ci/run` installs Debian's chromium). One browser per test module.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.console_screenshot import chromium_path, launch_chromium  # noqa: E402


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run; .ci/run installs Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _unavailable("no Chromium: apt-get install chromium (or set SWITCHYARD_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright, executable)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each test saves its page's screenshot (a test artefact, never committed)."""
    return tmp_path_factory.mktemp("console-screenshots")
