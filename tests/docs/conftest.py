"""Fixtures of the docs tests: one demo gateway and one scratch directory per page, for the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.runner import ScratchDirs


@pytest.fixture(scope="session")
def docs_demo(session_servers):
    """`gateway serve --demo` on a free port, shared by every `run=demo` block (started on first use)."""
    return session_servers.demo_gateway()


@pytest.fixture(scope="session")
def docs_scratch(tmp_path_factory: pytest.TempPathFactory) -> ScratchDirs:
    return ScratchDirs(Path(tmp_path_factory.mktemp("docs")))
