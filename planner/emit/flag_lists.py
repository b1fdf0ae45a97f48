"""The engines' documented command-line options, from the flag lists checked in under `data/`.

Each list names its source (the PyPI wheel and files it was read from) in its header;
`data/extract_flags.py` regenerates it for another release.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["ENGINE_VERSIONS", "DocumentedOptions", "documented_options", "undocumented_options"]

ENGINE_VERSIONS: dict[str, str] = {"vllm": "0.13.0", "sglang": "0.5.6.post2"}
"""The releases the emitted commands are written for (vLLM 0.13.0: 2025-12-19 wheel)."""

_DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class DocumentedOptions:
    """Every option one engine release accepts, fixed choices per option, built-in parser names."""

    options: frozenset[str]
    choices: dict[str, frozenset[str]]
    reasoning_parsers: frozenset[str]
    tool_call_parsers: frozenset[str]


@cache
def documented_options(engine: str) -> DocumentedOptions:
    """Parse `data/<engine>-<version>-flags.txt`."""
    path = _DATA_DIR / f"{engine}-{ENGINE_VERSIONS[engine]}-flags.txt"
    options: set[str] = set()
    choices: dict[str, frozenset[str]] = {}
    parsers: dict[str, frozenset[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if words[0].startswith("@"):
            parsers[words[0][1:]] = frozenset(words[1:])
            continue
        names = [word for word in words if word.startswith("-")]
        options.update(names)
        for word in words:
            if word.startswith("choices="):
                for name in names:
                    choices[name] = frozenset(word.removeprefix("choices=").split(","))
    return DocumentedOptions(
        options=frozenset(options),
        choices=choices,
        reasoning_parsers=parsers["reasoning-parser"],
        tool_call_parsers=parsers["tool-call-parser"],
    )


def undocumented_options(engine: str, argv: list[str]) -> list[str]:
    """Options in an engine argv that the release does not document, or values outside its choices."""
    documented = documented_options(engine)
    known_values = dict(documented.choices)
    known_values["--reasoning-parser"] = documented.reasoning_parsers
    known_values["--tool-call-parser"] = documented.tool_call_parsers
    problems = []
    for index, arg in enumerate(argv):
        if not arg.startswith("--"):
            continue
        if arg not in documented.options:
            problems.append(arg)
        elif arg in known_values and index + 1 < len(argv) and argv[index + 1] not in known_values[arg]:
            problems.append(f"{arg} {argv[index + 1]}")
    return problems
