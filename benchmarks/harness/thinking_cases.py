"""The labelled prompts of `benchmarks/data/thinking/` as chat bodies (see its README.md).

A split is a folder of YAML lists (one file per theme) plus `passages.yaml`, long texts that a
case pulls in with `{passage:NAME}`. Each case has an `id`, a `tag: [task type, language,
think|plain]`, and either `p` (one user turn) or `turns` (a list of `{user: ...}` /
`{assistant: ...}`), optionally with a `system` prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DATA_DIR", "HARD_KINDS", "PLAIN_KINDS", "SPLITS", "ThinkingCase", "load_cases"]

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "thinking"
SPLITS = ("train", "test")
HARD_KINDS = frozenset({"math", "proof", "algorithm", "debug", "planning", "puzzle", "estimation", "science", "code"})
PLAIN_KINDS = frozenset({"chat", "translation", "rewrite", "summary", "lookup", "format", "creative", "explain",
                         "code_easy", "arithmetic", "classify", "advice"})
LABELS = {"think": True, "plain": False}
_PASSAGE = re.compile(r"\{passage:([a-z0-9-]+)\}")


@dataclass(frozen=True, slots=True)
class ThinkingCase:
    """One labelled request."""

    id: str  # "<split>/<id>"
    kind: str
    lang: str
    needs_thinking: bool
    body: dict[str, Any]  # a chat completions body for model "auto"

    @property
    def chars(self) -> int:
        """Characters of the last user turn."""
        return len(self.body["messages"][-1]["content"])

    @property
    def user_turns(self) -> int:
        return sum(1 for message in self.body["messages"] if message["role"] == "user")


def _expand(text: str, passages: dict[str, str], where: str) -> str:
    def passage(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in passages:
            raise ValueError(f"{where}: unknown passage {name!r}")
        return passages[name]

    return _PASSAGE.sub(passage, text)


def _case(raw: dict[str, Any], split: str, passages: dict[str, str], where: str) -> ThinkingCase:
    kind, lang, label = raw["tag"]
    if label not in LABELS:
        raise ValueError(f"{where}: label must be think or plain, got {label!r}")
    if kind not in (HARD_KINDS if LABELS[label] else PLAIN_KINDS):
        raise ValueError(f"{where}: task type {kind!r} does not fit label {label!r}")
    messages = [{"role": "system", "content": _expand(raw["system"], passages, where)}] if "system" in raw else []
    turns = raw.get("turns") or [{"user": raw["p"]}]
    for turn in turns:
        ((role, text),) = turn.items()
        messages.append({"role": role, "content": _expand(text, passages, where)})
    if messages[-1]["role"] != "user":
        raise ValueError(f"{where}: the last turn must be the user's")
    return ThinkingCase(f"{split}/{raw['id']}", kind, lang, LABELS[label], {"model": "auto", "messages": messages})


def load_cases(split: str, data_dir: Path = DATA_DIR) -> list[ThinkingCase]:
    """Every case of one split, in file and list order; raises ValueError on a malformed case."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (valid: {', '.join(SPLITS)})")
    folder = data_dir / split
    passages = yaml.safe_load((folder / "passages.yaml").read_text(encoding="utf-8")) or {}
    cases: list[ThinkingCase] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "passages.yaml":
            continue
        for index, raw in enumerate(yaml.safe_load(path.read_text(encoding="utf-8")) or []):
            cases.append(_case(raw, split, passages, f"{path.name}[{index}] {raw.get('id')}"))
    ids = [case.id for case in cases]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{split}: duplicate case ids")
    return cases
