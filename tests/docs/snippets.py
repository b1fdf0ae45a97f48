"""The fenced blocks of the documentation, and what each one's info string says about running it.

Pages: README.md, CONTRIBUTING.md and docs/**/*.md. A block's info string is its language, then
attributes:

    ```console run            lines starting `$ ` are commands (a trailing `\\` continues one, a
                              here-document runs to its terminator), the rest is the expected
                              output of the command above them
    ```console run=demo       the same, against a demo gateway (`gateway serve --demo`)
    ```python run=demo        a script run against the demo; the next block on the page is
    ```text output            its expected stdout
    ```yaml policy            must load as a valid policy (policies.loader.parse_policy_text)
    ```console norun="why"    shown only: the reason says why it cannot run here

Every console, python, yaml, bash, sh and toml block must say one or the other
(`unmarked_blocks`). Expected output is compared exactly after `normalise`, except that a line
holding only `...` matches any number of lines, and `...` inside a line matches any text.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ROOT", "Block", "Command", "CODE_LANGUAGES", "SnippetError", "doc_pages", "parse_page", "parse_info",
    "runnable_blocks", "unmarked_blocks", "console_commands", "normalise", "output_matches",
]

ROOT = Path(__file__).resolve().parents[2]
CODE_LANGUAGES = frozenset({"console", "python", "yaml", "bash", "sh", "toml"})
ELLIPSIS = "..."
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<word>\w+)\1")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


class SnippetError(ValueError):
    """A block whose marking is malformed (an unknown attribute, a python block with no output)."""


@dataclass(frozen=True)
class Command:
    """One `$ ` command of a console block and the output shown under it."""

    line: int  # 1-based line on the page of the `$ ` line
    text: str  # the command, continuation lines joined with newlines
    expected: str  # the shown output (may be empty)


@dataclass
class Block:
    """One fenced block: where it is, its info string read, its body."""

    page: Path
    line: int  # 1-based line of the opening fence
    end_line: int  # 1-based line of the closing fence
    language: str
    attrs: dict[str, str]
    body: str
    output: Block | None = field(default=None, repr=False)  # a python block's ```text output block

    @property
    def run(self) -> str | None:
        """`"local"` for `run`, `"demo"` for `run=demo`, None when the block does not run."""
        if "run" not in self.attrs:
            return None
        return self.attrs["run"] or "local"

    @property
    def marked(self) -> bool:
        return "run" in self.attrs or "norun" in self.attrs or "policy" in self.attrs or "output" in self.attrs

    @property
    def test_id(self) -> str:
        return f"{relative(self.page)}:{self.line}"


def relative(page: Path) -> str:
    try:
        return page.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return page.as_posix()


def doc_pages(root: Path = ROOT) -> list[Path]:
    """README.md, CONTRIBUTING.md and every page under docs/, in a stable order."""
    pages = [root / name for name in ("README.md", "CONTRIBUTING.md") if (root / name).exists()]
    return pages + sorted((root / "docs").rglob("*.md"))


def parse_info(info: str) -> tuple[str, dict[str, str]]:
    """```` ```console run=demo ```` -> ("console", {"run": "demo"}); `norun="a reason"` keeps its spaces."""
    try:
        words = shlex.split(info)
    except ValueError as exc:
        raise SnippetError(f"unreadable info string {info!r}: {exc}") from None
    if not words:
        return "", {}
    language, attrs = words[0], {}
    for word in words[1:]:
        key, _, value = word.partition("=")
        if key not in ("run", "norun", "policy", "output"):
            raise SnippetError(f"unknown attribute {key!r} in info string {info!r} (run, run=demo, norun=\"why\", policy, output)")
        attrs[key] = value
    if "run" in attrs and attrs["run"] not in ("", "demo"):
        raise SnippetError(f"run={attrs['run']!r}: only `run` and `run=demo` exist")
    if "norun" in attrs and not attrs["norun"].strip():
        raise SnippetError('norun needs its reason: norun="why this block cannot run here"')
    return language, attrs


def parse_page(page: Path, text: str | None = None) -> list[Block]:
    """Every fenced block of a page, python blocks paired with their ```text output block."""
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence = opening["fence"]
        language, attrs = parse_info(opening["info"].strip())
        body: list[str] = []
        close = index + 1
        while close < len(lines) and not re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[close]):
            body.append(_dedent(lines[close], len(opening["indent"])))
            close += 1
        blocks.append(Block(page, index + 1, close + 1, language, attrs, "\n".join(body) + ("\n" if body else "")))
        index = close + 1
    _pair_outputs(blocks)
    return blocks


def _dedent(line: str, indent: int) -> str:
    """A body line without the spaces its fence was indented by (a block inside a list item)."""
    return line[min(indent, len(line) - len(line.lstrip(" "))):]


def _pair_outputs(blocks: list[Block]) -> None:
    for position, block in enumerate(blocks):
        if block.language == "python" and block.run:
            following = blocks[position + 1] if position + 1 < len(blocks) else None
            if following is None or "output" not in following.attrs:
                raise SnippetError(f"{block.test_id}: a ```python run block must be followed by its ```text output block")
            block.output = following


def runnable_blocks(pages: list[Path] | None = None) -> list[Block]:
    """The blocks a test executes or validates: `run`, `run=demo` and `policy`."""
    return [b for page in (pages or doc_pages()) for b in parse_page(page) if b.run or "policy" in b.attrs]


def unmarked_blocks(pages: list[Path] | None = None) -> list[Block]:
    """Code blocks that say neither how they run nor why they cannot."""
    return [b for page in (pages or doc_pages()) for b in parse_page(page)
            if b.language in CODE_LANGUAGES and not b.marked]


def console_commands(block: Block) -> list[Command]:
    """The `$ ` commands of a console block with the output shown under each."""
    commands: list[Command] = []
    lines = block.body.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("$ "):
            if not commands:
                raise SnippetError(f"{block.test_id}: output line {line!r} before any `$ ` command")
            index += 1
            continue
        start = index
        parts = [line[2:]]
        while parts[-1].endswith("\\") and index + 1 < len(lines):
            index += 1
            parts.append(lines[index])
        heredoc = _HEREDOC.search(parts[-1])
        if heredoc:  # the here-document's lines, up to its terminator, are part of the command
            while index + 1 < len(lines):
                index += 1
                parts.append(lines[index])
                if lines[index] == heredoc["word"]:
                    break
        index += 1
        output: list[str] = []
        while index < len(lines) and not lines[index].startswith("$ "):
            output.append(lines[index])
            index += 1
        commands.append(Command(block.line + 1 + start, "\n".join(parts), "\n".join(output)))
    return commands


def normalise(text: str) -> str:
    """Trailing spaces and trailing blank lines dropped, tabs as spaces."""
    lines = [line.rstrip() for line in text.expandtabs().splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _line_pattern(expected_line: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in expected_line.split(ELLIPSIS)) + r"\Z", re.DOTALL)


def output_matches(expected: str, actual: str) -> bool:
    """Whether `actual` is `expected` after `normalise`, with `...` as wildcards (see the module)."""
    want = normalise(expected).splitlines()
    got = normalise(actual).splitlines()
    patterns = [None if line.strip() == ELLIPSIS else _line_pattern(line) for line in want]
    memo: dict[tuple[int, int], bool] = {}

    def match(w: int, g: int) -> bool:
        key = (w, g)
        if key not in memo:
            if w == len(patterns):
                memo[key] = g == len(got)
            elif patterns[w] is None:
                memo[key] = any(match(w + 1, skip) for skip in range(g, len(got) + 1))
            else:
                memo[key] = g < len(got) and bool(patterns[w].match(got[g])) and match(w + 1, g + 1)
        return memo[key]

    return match(0, 0)
