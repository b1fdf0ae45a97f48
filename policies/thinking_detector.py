"""How likely a chat request needs thinking (reasoning) mode, read from its content: a score in [0, 1].

Pure, deterministic and offline; standard library only. The score is a logistic model,
`1 / (1 + exp(-(bias + sum(weight * feature))))`, whose weights were learned offline by
`benchmarks/train_thinking_detector.py` from the labelled training split in
`benchmarks/data/thinking/train/` and ship in `thinking_weights.json` beside this module.
`benchmarks/thinking_detection.py` measures it on the held-out test split.

The features are counts of task-type cues (`policies.thinking_cues`: proof, maths, algorithms,
debugging, planning, constraints, puzzles, estimation, ... against translation, rewriting,
summarising, lookups, formatting, chat, ...) in four places, plus a few shape figures:

- the *instruction*: the last user turn, minus the text it hands over to be processed. A long
  turn is split into paragraphs and fenced code blocks; the instruction is its first paragraph
  when that one introduces material (ends with a colon), else its first and last short
  paragraphs; long quoted spans move to the material. "Translate the following notes: <notes
  full of theorems>" counts the theorems as material, not as the task;
- the *lead*: the instruction's first clause (up to the first colon, full stop or line end),
  where the task verb usually sits, as four group totals;
- the *material*: the rest of the last turn;
- the *context*: the system prompt and the two turns before the last, as group totals.

Bounded work: only the first `HEAD_CHARS` and last `TAIL_CHARS` characters of the last user turn
(and of its material, about 800 characters), `CONTEXT_CHARS` of the system prompt and of each
earlier turn, and the last `MAX_MESSAGES_SCANNED` messages are read, so a 200K-character prompt
costs about what a 2K-character one does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.thinking_cues import (
    CATEGORIES,
    HARD_CATEGORIES,
    LEXICON,
    PROCESS_CATEGORIES,
    SOCIAL_CATEGORIES,
    CueLexicon,
)

__all__ = [
    "FEATURE_NAMES",
    "WEIGHTS_PATH",
    "Conversation",
    "ThinkingModel",
    "conversation",
    "feature_vector",
    "load_model",
    "thinking_score",
]

HEAD_CHARS = 1500
TAIL_CHARS = 500
MATERIAL_HEAD_CHARS = 550  # of the given text only its start and end are scanned for cues
MATERIAL_TAIL_CHARS = 250
SHORT_CHARS = 600  # a last turn this short is all instruction
EDGE_PARAGRAPH_CHARS = 400  # a first or last paragraph longer than this is material, not instruction
INSTRUCTION_HEAD_CHARS = 300  # one long paragraph: its start and end are the instruction
INSTRUCTION_TAIL_CHARS = 240
LEAD_CHARS = 120
CONTEXT_CHARS = 600
MAX_MESSAGES_SCANNED = 16
INSTRUCTION_WORDS_CAP = 120  # length features stop growing here (about the longest training instructions)
TURN_CHARS_CAP = 3000
MAX_CONTENT_PARTS = 16

WEIGHTS_PATH = Path(__file__).with_name("thinking_weights.json")

_EAST_ASIAN_START = "\u3040"
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]+"  # kana, CJK ideographs, hangul: one run
    r"|[^\W\d_\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]+"  # letters of other scripts
)
_ASCII_TOKEN = re.compile(r"[a-z]+")  # the same tokens as _TOKEN on lower-case ASCII text, 3-4x faster
_FENCE = "```"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_QUOTED = re.compile(r'"[^"]{30,}"|“[^”]{30,}”|«[^»]{30,}»|„[^“”]{30,}[“”]|「[^」]{12,}」|『[^』]{12,}』')
_LEAD_END = re.compile(r"[:：.。!！?？\n]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MATHS = re.compile(r"[=^√∑∫≤≥≠±π∞]|\d\s*[*/×÷+\-]\s*[\d(a-z]")
_INTRODUCES_MATERIAL = (":", "：")

_GROUPS: dict[str, tuple[int, ...]] = {
    "hard": tuple(CATEGORIES.index(name) for name in HARD_CATEGORIES),
    "process": tuple(CATEGORIES.index(name) for name in PROCESS_CATEGORIES),
    "social": tuple(CATEGORIES.index(name) for name in SOCIAL_CATEGORIES),
    "ask": (CATEGORIES.index("lookup"), CATEGORIES.index("explain")),
}
_SHAPE = ("instruction_words", "turn_chars", "material_share", "numbers", "maths_symbols", "question",
          "code_fence", "earlier_turns", "system_prompt")

FEATURE_NAMES: tuple[str, ...] = (
    *(f"instruction.{name}" for name in CATEGORIES),
    *(f"material.{name}" for name in CATEGORIES),
    *(f"lead.{group}" for group in _GROUPS),
    *(f"system.{group}" for group in _GROUPS),
    *(f"earlier.{group}" for group in _GROUPS),
    *(f"shape.{name}" for name in _SHAPE),
)
"""The order of `feature_vector` and of the weights in `thinking_weights.json`."""


@dataclass(frozen=True, slots=True)
class Conversation:
    """The bounded parts of a request the detector reads."""

    request: str  # the last user turn (or completions prompt), cut to its head and tail
    system: str = ""
    earlier: str = ""  # the turns just before the last one, each cut
    turn_chars: int = 0  # the last user turn's full length


def _cut(text: str, head: int, tail: int = 0) -> str:
    if len(text) <= head + tail:
        return text
    return text[:head] + ("\n\n" + text[-tail:] if tail else "")


def _content_text(content: Any, limit: int) -> tuple[str, int]:
    """(the text, bounded to about `limit` characters kept at each end, and its full length)."""
    if isinstance(content, str):
        return content, len(content)
    if not isinstance(content, list):
        return "", 0
    texts = [part.get("text") for part in content[:MAX_CONTENT_PARTS] if isinstance(part, Mapping)]
    joined = "\n".join(text for text in texts if isinstance(text, str))
    return joined, len(joined)


def conversation(body: Mapping[str, Any]) -> Conversation:
    """The last user turn, the system prompt and the turns before, of a chat or completions body."""
    messages = body.get("messages")
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes) or not messages:
        prompt = body.get("prompt")
        if isinstance(prompt, list):
            prompt = prompt[0] if prompt and isinstance(prompt[0], str) else ""
        text = prompt if isinstance(prompt, str) else ""
        return Conversation(_cut(text, HEAD_CHARS, TAIL_CHARS), turn_chars=len(text))
    recent = messages[-MAX_MESSAGES_SCANNED:]
    request, turn_chars, earlier = "", 0, []
    for message in reversed(recent):
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            continue
        text, size = _content_text(message.get("content"), HEAD_CHARS + TAIL_CHARS)
        if not request and role == "user":
            request, turn_chars = _cut(text, HEAD_CHARS, TAIL_CHARS), size
        elif request and len(earlier) < 2 and text:
            earlier.append(_cut(text, CONTEXT_CHARS))
        if len(earlier) >= 2:
            break
    first = messages[0]
    system = ""
    if isinstance(first, Mapping) and first.get("role") in ("system", "developer"):
        system = _cut(_content_text(first.get("content"), CONTEXT_CHARS)[0], CONTEXT_CHARS)
    return Conversation(request, system, "\n\n".join(earlier), turn_chars)


def _fenced_blocks(text: str) -> tuple[list[str], str]:
    """(the fenced code blocks, an unclosed last one included; the text around them)."""
    if _FENCE not in text:
        return [], text
    blocks, prose, position = [], [], 0
    while (start := text.find(_FENCE, position)) >= 0:
        prose.append(text[position:start])
        end = text.find(_FENCE, start + len(_FENCE))
        if end < 0:
            blocks.append(text[start:])
            return blocks, "\n\n".join(prose)
        blocks.append(text[start:end + len(_FENCE)])
        position = end + len(_FENCE)
    prose.append(text[position:])
    return blocks, "\n\n".join(prose)


def _split(request: str) -> tuple[str, str]:
    """(instruction, material) of the last user turn; see the module docstring."""
    if len(request) <= SHORT_CHARS:
        instruction, material = request, ""
    else:
        fenced, prose = _fenced_blocks(request)
        paragraphs = [p for p in _PARAGRAPH_BREAK.split(prose) if p.strip()]
        if not paragraphs:
            return "", request
        first, last = paragraphs[0], paragraphs[-1]
        if len(paragraphs) == 1:
            if len(first) <= SHORT_CHARS:
                instruction, rest = first, []
            else:
                instruction = first[:INSTRUCTION_HEAD_CHARS] + "\n" + first[-INSTRUCTION_TAIL_CHARS:]
                rest = [first[INSTRUCTION_HEAD_CHARS:-INSTRUCTION_TAIL_CHARS]]
        elif len(first) <= EDGE_PARAGRAPH_CHARS and first.rstrip().endswith(_INTRODUCES_MATERIAL):
            instruction, rest = first, paragraphs[1:]
        else:
            edges = [p for p in (first, last) if len(p) <= EDGE_PARAGRAPH_CHARS]
            if edges:
                instruction = "\n".join(edges)
                rest = [p for p in paragraphs[1:-1]] + [p for p in (first, last) if len(p) > EDGE_PARAGRAPH_CHARS]
            else:
                instruction = first[:INSTRUCTION_HEAD_CHARS] + "\n" + last[-INSTRUCTION_TAIL_CHARS:]
                rest = paragraphs[1:-1] + [first[INSTRUCTION_HEAD_CHARS:], last[:-INSTRUCTION_TAIL_CHARS]]
        material = _cut("\n".join([*rest, *fenced]), MATERIAL_HEAD_CHARS, MATERIAL_TAIL_CHARS)
    quoted = _QUOTED.findall(instruction)
    if quoted:
        instruction = _QUOTED.sub(" ", instruction)
        material = "\n".join([material, *quoted])
    return instruction, material


def _cue_counts(text: str, lexicon: CueLexicon = LEXICON) -> tuple[list[int], int]:
    """(how many cues of each category `text` holds, about how many words it has).

    A run of Chinese, Japanese or Korean characters counts one word per two characters, so that
    length means the same in every script.
    """
    counts = [0] * len(CATEGORIES)
    if not text:
        return counts, 0
    category, pairs, east_asian = lexicon.category, lexicon.pairs, lexicon.east_asian
    following: dict[str, int] | None = None
    words = 0
    lowered = text.lower()
    for token in (_ASCII_TOKEN if lowered.isascii() else _TOKEN).findall(lowered):
        if token[0] >= _EAST_ASIAN_START:
            words += (len(token) + 1) // 2
            for start in range(len(token) - 1):
                found = east_asian.get(token[start:start + 2])
                if found is not None:
                    counts[found] += 1
            following = None
            continue
        words += 1
        found = category(token)
        if found >= 0:
            counts[found] += 1
        if following is not None:
            pair = following.get(token)
            if pair is not None:
                counts[pair] += 1
        following = pairs.get(token)
    return counts, words


def _grouped(counted: tuple[list[int], int]) -> list[float]:
    counts = counted[0]
    return [math.log1p(sum(counts[i] for i in members)) for members in _GROUPS.values()]


def _log_size(size: int, cap: int) -> float:
    """log10(1 + size) / 3, no larger than for `cap`: beyond the sizes seen in training, length says nothing."""
    return math.log10(1 + min(size, cap)) / 3


def feature_vector(body: Mapping[str, Any]) -> list[float]:
    """The detector's features of one request, in `FEATURE_NAMES` order."""
    talk = conversation(body)
    instruction, material = _split(talk.request)
    lead_match = _LEAD_END.search(instruction, 0, LEAD_CHARS)
    lead = instruction[: lead_match.start() if lead_match else LEAD_CHARS]
    instruction_counts, instruction_words = _cue_counts(instruction)
    total = len(instruction) + len(material)
    shape = (
        _log_size(instruction_words, INSTRUCTION_WORDS_CAP),
        _log_size(talk.turn_chars, TURN_CHARS_CAP),
        len(material) / total if total else 0.0,
        math.log1p(len(_NUMBER.findall(instruction))),
        math.log1p(len(_MATHS.findall(instruction))),
        1.0 if "?" in instruction or "？" in instruction else 0.0,
        1.0 if "```" in talk.request else 0.0,
        1.0 if talk.earlier else 0.0,
        1.0 if talk.system else 0.0,
    )
    return [
        *(math.log1p(count) for count in instruction_counts),
        *(math.log1p(count) for count in _cue_counts(material)[0]),
        *_grouped(_cue_counts(lead)),
        *_grouped(_cue_counts(talk.system)),
        *_grouped(_cue_counts(talk.earlier)),
        *shape,
    ]


class ThinkingModel:
    """The learned logistic weights over `FEATURE_NAMES`."""

    __slots__ = ("bias", "weights", "meta")

    def __init__(self, bias: float, weights: Sequence[float], meta: Mapping[str, Any] | None = None) -> None:
        if len(weights) != len(FEATURE_NAMES):
            raise ValueError(f"{len(weights)} weights for {len(FEATURE_NAMES)} features")
        self.bias = float(bias)
        self.weights = tuple(float(w) for w in weights)
        self.meta = dict(meta or {})

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> ThinkingModel:
        """Read a weight file; its feature names must be this module's, in order."""
        data = json.loads(path.read_text(encoding="utf-8"))
        names = tuple(data["features"])
        if names != FEATURE_NAMES:
            missing = sorted(set(FEATURE_NAMES) ^ set(names)) or ["(order differs)"]
            raise ValueError(f"{path}: weights do not match the detector's features: {', '.join(missing[:5])}")
        meta = {key: value for key, value in data.items() if key not in ("features", "weights", "bias")}
        return cls(data["bias"], [data["weights"][name] for name in names], meta)

    def score(self, features: Sequence[float]) -> float:
        """The logistic score of one feature vector, rounded to 4 decimals."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))
        z = max(-30.0, min(30.0, z))
        return round(1.0 / (1.0 + math.exp(-z)), 4)


_MODEL: ThinkingModel | None = None


def load_model() -> ThinkingModel:
    """The shipped model, read from `thinking_weights.json` once (policy compilation calls it, so
    the file is read at load time, not on a request)."""
    global _MODEL
    if _MODEL is None:
        _MODEL = ThinkingModel.load()
    return _MODEL


def thinking_score(body: Mapping[str, Any], model: ThinkingModel | None = None) -> float:
    """How likely this chat or completions body needs thinking mode, in [0, 1]; never raises on odd bodies."""
    return (model or load_model()).score(feature_vector(body))
