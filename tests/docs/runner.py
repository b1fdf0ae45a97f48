"""Runs the documentation's blocks and gives back what they printed, in the form the page shows it.

A page's blocks run in order in one scratch directory that holds a symlink to every top-level entry
of the checkout (so `policies/default.yaml` and `benchmarks/...` resolve, while the files a snippet
writes stay in the scratch directory), with the venv's bin/ first on PATH, no provider key or
upstream URL from the caller's environment, `LITELLM_LOCAL_MODEL_COST_MAP=True` and a data
directory of its own. `run=demo` blocks talk to a demo gateway (`gateway serve --demo`) on a free
port: `127.0.0.1:8080` in the block is rewritten to that port, and the port back to 8080 in what it
printed; `$SWITCHYARD_ADMIN_KEY` is the demo run's admin key and `$SWITCHYARD_LEDGER_PATH` its ledger.
A block that starts servers of its own shows them on ports 18500-18599 (`PAGE_PORTS`): each such
port is rewritten to a free one for the run, and back in what it printed, so two runs never clash.
A command that exits non-zero shows a last line `[exit status N]`.
"""

from __future__ import annotations

import os
import re
import socket
from concurrent.futures import ThreadPoolExecutor
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tests.docs.snippets import ROOT, Block, console_commands

__all__ = ["DemoServer", "RunResult", "ScratchDirs", "run_block", "run_local_blocks", "shown_port", "DOCUMENTED_ADDRESS"]

DOCUMENTED_ADDRESS = "127.0.0.1:8080"
PAGE_PORTS = re.compile(r"(?<![\d.])185\d\d(?!\d)")
"""Ports a page's own servers are shown on (see the module docstring)."""
COMMAND_TIMEOUT_S = 300.0
_CALLER_VARIABLES = re.compile(r"^(SWITCHYARD_.*|.*_API_KEY|.*_BASE_URL|REDIS_URL|XDG_DATA_HOME|COLUMNS)$")


class DemoServer(Protocol):
    """What the runner needs of a running demo gateway (tests/conftest.py's ServerProcess has it)."""

    port: int
    log_path: Path


@dataclass(frozen=True)
class RunResult:
    """What one block printed: per console command, or the whole stdout of a python block."""

    block: Block
    outputs: list[str]  # one per `$ ` command (console), or one (python)
    expected: list[str]


class ScratchDirs:
    """One scratch directory per page, made on first use under `base`."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._made: dict[Path, Path] = {}

    def for_page(self, page: Path) -> Path:
        if page not in self._made:
            scratch = self.base / re.sub(r"[^\w.-]", "_", str(page.resolve().relative_to(ROOT)))
            scratch.mkdir(parents=True, exist_ok=True)
            for entry in ROOT.iterdir():
                if entry.name != ".git" and not (scratch / entry.name).exists():
                    (scratch / entry.name).symlink_to(entry)
            (scratch / ".data").mkdir(exist_ok=True)
            self._made[page] = scratch
        return self._made[page]


def demo_admin_key(demo: DemoServer) -> str:
    """The admin key `gateway serve --demo` made for its run (printed once in its start-up lines)."""
    found = re.search(r"admin key (sy-admin-\S+?),", demo.log_path.read_text(errors="replace"))
    return found.group(1) if found else ""


def _environment(scratch: Path, demo: DemoServer | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _CALLER_VARIABLES.match(k)}
    env.update({
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "XDG_DATA_HOME": str(scratch / ".data"),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        "OPENAI_API_KEY": "unused",
    })
    if demo is not None:
        env["SWITCHYARD_ADMIN_KEY"] = demo_admin_key(demo)
        env["SWITCHYARD_LEDGER_PATH"] = str(demo.log_path.parent / f"ledger-{demo.port}.sqlite3")
    return env


def pointed(text: str, demo: DemoServer | None) -> str:
    """The snippet with the documented address turned into the demo's."""
    return text if demo is None else text.replace(DOCUMENTED_ADDRESS, f"127.0.0.1:{demo.port}")


def shown_port(text: str, scratch: Path, demo: DemoServer | None) -> str:
    """What a command printed, as the page shows it: the documented port, no scratch path."""
    if demo is not None:
        text = text.replace(f"127.0.0.1:{demo.port}", DOCUMENTED_ADDRESS)
    return text.replace(f"{scratch}/", "").replace(str(scratch), ".")


def _finish(done: subprocess.CompletedProcess[str], printed: str) -> str:
    """What was printed, and a last line `[exit status N]` when the command failed."""
    if done.returncode == 0:
        return printed
    separator = "" if not printed or printed.endswith("\n") else "\n"
    return f"{printed}{separator}[exit status {done.returncode}]\n"


def _run_command(command: str, scratch: Path, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", "-c", command], cwd=scratch, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=COMMAND_TIMEOUT_S)
    return _finish(done, done.stdout)


def _run_python(source: str, scratch: Path, env: dict[str, str]) -> str:
    script = scratch / "snippet.py"  # the name the pages use when they show `python snippet.py`
    script.write_text(source, encoding="utf-8")
    done = subprocess.run([sys.executable, script.name], cwd=scratch, env=env, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_S)
    return _finish(done, done.stdout + ("" if done.returncode == 0 else done.stderr))


def run_block(block: Block, scratch: Path, demo: DemoServer | None) -> RunResult:
    """Run a `run` / `run=demo` block; `demo` must be given for the latter."""
    if block.run == "demo" and demo is None:
        raise ValueError(f"{block.test_id} runs against the demo gateway, and none was given")
    demo = demo if block.run == "demo" else None
    env = _environment(scratch, demo)
    if block.language == "python":
        assert block.output is not None
        printed = _run_python(pointed(block.body, demo), scratch, env)
        return RunResult(block, [shown_port(printed, scratch, demo)], [block.output.body])
    if block.language != "console":
        raise ValueError(f"{block.test_id}: only console and python blocks run (this one is {block.language!r})")
    commands = console_commands(block)
    ports = _free_ports_for(PAGE_PORTS.findall(" ".join(c.text for c in commands)))
    outputs = [_ports_swapped(shown_port(_run_command(_ports_swapped(pointed(c.text, demo), ports), scratch, env),
                                         scratch, demo), {free: shown for shown, free in ports.items()})
               for c in commands]
    return RunResult(block, outputs, [c.expected for c in commands])


def _free_ports_for(shown: list[str]) -> dict[str, str]:
    """A free loopback port for each port the block shows (the OS picks; held until all are picked)."""
    sockets, ports = [], {}
    try:
        for port in dict.fromkeys(shown):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
            ports[port] = str(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


def _ports_swapped(text: str, mapping: dict[str, str]) -> str:
    """`text` with every whole port number in `mapping` replaced by its value."""
    if not mapping:
        return text
    pattern = re.compile(r"(?<![\d.])(" + "|".join(map(re.escape, mapping)) + r")(?!\d)")
    return pattern.sub(lambda m: mapping[m.group(1)], text)


def run_local_blocks(blocks: list[Block], scratch: ScratchDirs, workers: int | None = None) -> dict[str, RunResult]:
    """Run the `run` blocks (no demo) of several pages at once, each page's in order in its own scratch
    directory, keyed by test id. A page's local blocks must therefore not need a file that one of its
    `run=demo` blocks writes."""
    pages: dict[Path, list[Block]] = {}
    for block in blocks:
        if block.run == "local":
            pages.setdefault(block.page, []).append(block)

    def run_page(page_blocks: list[Block]) -> list[RunResult]:
        return [run_block(block, scratch.for_page(block.page), None) for block in page_blocks]

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        results = [result for page_results in pool.map(run_page, pages.values()) for result in page_results]
    return {result.block.test_id: result for result in results}
