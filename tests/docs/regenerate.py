"""`python -m tests.docs.regenerate [PAGE ...]`: rewrite the output the pages show from real runs.

Runs every `run` / `run=demo` block of the pages (all of them without arguments) as the docs test
does, starting one demo gateway if a block needs it, and writes back each command's output where
it no longer matches what the page shows; output that still matches (`...` wildcards included) is
left as written. Read the diff before committing: a changed figure may be a regression.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.docs.runner import RunResult, ScratchDirs, run_block
from tests.docs.snippets import ROOT, Block, console_commands, doc_pages, normalise, output_matches, parse_page, relative

__all__ = ["regenerate_page", "main"]


def _shown(expected: str, actual: str) -> str:
    return normalise(expected) if output_matches(expected, actual) else normalise(actual)


def _new_body(result: RunResult) -> str:
    block = result.block
    if block.language == "python":
        return block.body
    parts = []
    for command, expected, actual in zip(console_commands(block), result.expected, result.outputs):
        shown = _shown(expected, actual)
        parts.append("$ " + command.text + ("\n" + shown if shown else ""))
    return "\n".join(parts) + "\n"


def _replace(lines: list[str], first_body_line: int, last_body_line: int, body: str) -> None:
    """Lines first..last (1-based, inclusive; last < first for an empty body) become `body`."""
    lines[first_body_line - 1:last_body_line] = body.splitlines()


def regenerate_page(page: Path, demo_for: object) -> int:
    """Rewrite one page in place; returns how many blocks changed. `demo_for()` gives the demo gateway."""
    blocks = [b for b in parse_page(page) if b.run]
    if not blocks:
        return 0
    lines = page.read_text(encoding="utf-8").splitlines()
    scratch = ScratchDirs(Path(tempfile.mkdtemp(prefix="docs-regenerate-")))
    edits: list[tuple[Block, str]] = []
    for block in blocks:
        result = run_block(block, scratch.for_page(page), demo_for() if block.run == "demo" else None)
        if block.language == "python":
            assert block.output is not None
            shown = _shown(result.expected[0], result.outputs[0])
            if shown != normalise(block.output.body):
                edits.append((block.output, shown + "\n"))
        else:
            body = _new_body(result)
            if normalise(body) != normalise(block.body):
                edits.append((block, body))
    for block, body in sorted(edits, key=lambda edit: -edit[0].line):
        _replace(lines, block.line + 1, block.end_line - 1, body)
    if edits:
        page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(edits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.docs.regenerate", description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="pages to rewrite (default: every page)")
    args = parser.parse_args(argv)
    pages = [p if p.is_absolute() else (Path.cwd() / p) for p in args.pages] or doc_pages()
    from tests.conftest import ServerLauncher

    launcher = ServerLauncher(Path(tempfile.mkdtemp(prefix="docs-demo-")))
    started: list[object] = []

    def demo_for() -> object:
        if not started:
            started.append(launcher.demo_gateway())
        return started[0]

    try:
        for page in pages:
            changed = regenerate_page(page.resolve(), demo_for)
            print(f"{relative(page)}: {changed} block(s) rewritten" if changed else f"{relative(page)}: up to date")
    finally:
        launcher.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
