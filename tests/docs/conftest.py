"""Fixtures of the docs tests: one demo gateway and one scratch directory per page, for the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.runner import RunResult, ScratchDirs, run_local_blocks


@pytest.fixture(scope="session")
def docs_demo(session_servers):
    """`gateway serve --demo` on a free port, shared by every `run=demo` block (started on first use)."""
    return session_servers.demo_gateway()


@pytest.fixture(scope="session")
def docs_scratch(tmp_path_factory: pytest.TempPathFactory) -> ScratchDirs:
    return ScratchDirs(Path(tmp_path_factory.mktemp("docs")))


@pytest.fixture(scope="session")
def local_runs(request: pytest.FixtureRequest, docs_scratch: ScratchDirs) -> dict[str, RunResult]:
    """The selected `run` blocks, run once, pages side by side (the CPUs are the limit, not the order)."""
    selected = [item.callspec.params["block"] for item in request.session.items
                if getattr(item, "callspec", None) is not None and "block" in item.callspec.params]
    return run_local_blocks(selected, docs_scratch)
