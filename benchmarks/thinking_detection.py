"""How well `thinking: auto` detects the need for thinking mode, and what it costs per request.

    .venv/bin/python benchmarks/thinking_detection.py                 # the figures, on the test split
    .venv/bin/python benchmarks/thinking_detection.py --json out.json --repeat 50

Prints, on the held-out test split (`benchmarks/data/thinking/test/`):
1. AUROC, accuracy, precision and recall of "needs thinking" for the detector at the default
   threshold 0.5 and for the baselines: never, always, a prompt-length threshold (the
   threshold with the best accuracy on the training split), and two keyword lists;
2. the detector's accuracy by slice (short and long prompts on each side, languages, turns);
3. precision, recall and accuracy over thresholds 0.1 ... 0.9: the table to tune
   `thinking_detection.threshold` from;
4. the added overhead per request, p50 and p99 of `thinking_score` over every test prompt
   (`--repeat` times each) and over a 200K-character prompt of prose and of code: the CPU time of
   the call (the thread's own clock: what the detector costs) and its wall time (which also
   holds whatever else the machine ran meanwhile; on a busy shared machine its tail is the
   scheduler's, so the load average is printed beside it).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness.classification import auroc, binary_scores  # noqa: E402
from benchmarks.harness.stats import percentile  # noqa: E402
from benchmarks.harness.thinking_cases import ThinkingCase, load_cases  # noqa: E402
from policies.thinking_detector import thinking_score  # noqa: E402

DEFAULT_THRESHOLD = 0.5
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
LONG_CHARS = 800
SHORT_CHARS = 200
HUGE_CHARS = 200_000

LITELLM_REASONING_KEYWORDS = (
    "step by step", "think through", "let's think", "reason through", "analyze this", "break down",
    "explain your reasoning", "show your work", "chain of thought", "think carefully", "consider all", "evaluate",
    "pros and cons", "compare and contrast", "weigh the options", "logical", "deduce", "infer", "conclude",
)
"""DEFAULT_REASONING_KEYWORDS of LiteLLM's complexity router, copied from litellm 1.110.2
(litellm/router_strategy/complexity_router/config.py, the version this project pins; read 2026-12-04)."""

TASK_KEYWORDS = (
    "prove", "proof", "solve", "calculate", "compute", "probability", "equation", "integral", "algorithm",
    "complexity", "debug", "bug", "error", "crash", "why does", "estimate", "puzzle", "riddle", "schedule",
    "optimize", "optimal", "step by step", "derive", "how many",
)
"""A plain list of English words for hard tasks: the obvious hand-written detector."""


def _prompt_text(case: ThinkingCase) -> str:
    return "\n".join(message["content"] for message in case.body["messages"])


def _keyword_scorer(keywords: Sequence[str]) -> Callable[[ThinkingCase], float]:
    pattern = re.compile("|".join(r"\b" + re.escape(word) for word in keywords), re.IGNORECASE)
    return lambda case: float(len(pattern.findall(_prompt_text(case))))


def _prompt_chars(case: ThinkingCase) -> float:
    return float(len(_prompt_text(case)))


def _best_length_threshold(train: Sequence[ThinkingCase]) -> float:
    """The prompt length at or above which "needs thinking" is most accurate on the training split."""
    lengths = sorted({_prompt_chars(case) for case in train})
    labels = [case.needs_thinking for case in train]
    return max(lengths, key=lambda t: binary_scores([_prompt_chars(c) >= t for c in train], labels).accuracy)


def _row(name: str, scores: Sequence[float], predicted: Sequence[bool], labels: Sequence[bool]) -> dict:
    figures = binary_scores(predicted, labels)
    return {"method": name, "auroc": round(auroc(scores, labels), 4), "accuracy": round(figures.accuracy, 4),
            "precision": round(figures.precision, 4), "recall": round(figures.recall, 4)}


def quality(train: Sequence[ThinkingCase], test: Sequence[ThinkingCase], detector: Sequence[float]) -> list[dict]:
    """Figures on the test split: the detector, then each baseline."""
    labels = [case.needs_thinking for case in test]
    rows = [_row(f"detector (threshold {DEFAULT_THRESHOLD})", detector, [s >= DEFAULT_THRESHOLD for s in detector], labels),
            _row("never", [0.0] * len(test), [False] * len(test), labels),
            _row("always", [1.0] * len(test), [True] * len(test), labels)]
    length_threshold = _best_length_threshold(train)
    lengths = [_prompt_chars(case) for case in test]
    rows.append(_row(f"prompt length >= {length_threshold:.0f} chars", lengths, [n >= length_threshold for n in lengths], labels))
    for name, keywords in (("keywords: LiteLLM reasoning list", LITELLM_REASONING_KEYWORDS),
                           ("keywords: English task words", TASK_KEYWORDS)):
        scorer = _keyword_scorer(keywords)
        hits = [scorer(case) for case in test]
        rows.append(_row(f"{name} (any hit)", hits, [h > 0 for h in hits], labels))
    return rows


def slices(test: Sequence[ThinkingCase], detector: Sequence[float]) -> list[dict]:
    """The detector's accuracy on parts of the test split."""
    def pick(name: str, keep: Callable[[ThinkingCase], bool]) -> dict:
        chosen = [(case, score) for case, score in zip(test, detector, strict=True) if keep(case)]
        right = sum(1 for case, score in chosen if (score >= DEFAULT_THRESHOLD) == case.needs_thinking)
        return {"slice": name, "cases": len(chosen), "accuracy": round(right / len(chosen), 4) if chosen else None}

    return [
        pick("needs thinking, short (< 200 chars)", lambda c: c.needs_thinking and c.chars < SHORT_CHARS),
        pick("needs thinking, long (>= 800 chars)", lambda c: c.needs_thinking and c.chars >= LONG_CHARS),
        pick("plain, short (< 200 chars)", lambda c: not c.needs_thinking and c.chars < SHORT_CHARS),
        pick("plain, long (>= 800 chars)", lambda c: not c.needs_thinking and c.chars >= LONG_CHARS),
        pick("English", lambda c: c.lang == "en"),
        pick("other languages", lambda c: c.lang != "en"),
        pick("languages absent from training examples (nl, ko)", lambda c: c.lang in ("nl", "ko")),
        pick("single turn", lambda c: c.user_turns == 1 and c.body["messages"][0]["role"] != "system"),
        pick("multi-turn or system prompt", lambda c: c.user_turns > 1 or c.body["messages"][0]["role"] == "system"),
        pick("plain, with code or digits", lambda c: not c.needs_thinking and bool(re.search(r"\d|```", c.body["messages"][-1]["content"]))),
    ]


def threshold_table(test: Sequence[ThinkingCase], detector: Sequence[float]) -> list[dict]:
    labels = [case.needs_thinking for case in test]
    table = []
    for threshold in THRESHOLDS:
        predicted = [score >= threshold for score in detector]
        figures = binary_scores(predicted, labels)
        table.append({"threshold": threshold, "precision": round(figures.precision, 4), "recall": round(figures.recall, 4),
                      "accuracy": round(figures.accuracy, 4), "thinking_share": round(sum(predicted) / len(predicted), 4)})
    return table


def _huge_bodies() -> dict[str, dict]:
    prose = ("Summarise the following report for the board. " + "The committee reviewed the quarterly figures, "
             "noted 1,284 open items and asked for a revised plan by 14 March. " * 2000)[:HUGE_CHARS]
    code = ("```python\n" + "def f(x):\n    return [i * i for i in range(x)]  # 0.5 + 2 = x\n" * 4000)[:HUGE_CHARS - 40]
    return {
        "200K-char prose prompt": {"model": "auto", "messages": [{"role": "user", "content": prose}]},
        "200K-char code prompt": {"model": "auto", "messages": [{"role": "user", "content": code + "\n```\nWhy is it slow?"}]},
    }


def _timings_ms(bodies: Sequence[dict], repeat: int) -> tuple[list[float], list[float]]:
    """(CPU times, wall times) of `thinking_score` calls, sorted, in milliseconds."""
    for body in bodies:  # warm the token cache and the weights, as a running gateway is
        thinking_score(body)
    gc.collect()
    cpu, wall = [], []
    for _ in range(repeat):
        for body in bodies:
            start_wall, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            thinking_score(body)
            cpu.append((time.thread_time_ns() - start_cpu) / 1e6)
            wall.append((time.perf_counter_ns() - start_wall) / 1e6)
    return sorted(cpu), sorted(wall)


def overhead(test: Sequence[ThinkingCase], repeat: int) -> list[dict]:
    """p50 / p99 of the detector's time per request, in milliseconds."""
    groups = {"test prompts (each)": [case.body for case in test], **{name: [body] for name, body in _huge_bodies().items()}}
    rows = []
    for name, bodies in groups.items():
        cpu, wall = _timings_ms(bodies, repeat if len(bodies) > 1 else repeat * 20)
        rows.append({"prompts": name, "calls": len(cpu),
                     "cpu_p50_ms": round(percentile(cpu, 50), 4), "cpu_p99_ms": round(percentile(cpu, 99), 4),
                     "wall_p50_ms": round(percentile(wall, 50), 4), "wall_p99_ms": round(percentile(wall, 99), 4)})
    return rows


def _load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    headers = list(rows[0])
    cells = [[("-" if row[h] is None else f"{row[h]:.3f}" if isinstance(row[h], float) else str(row[h])) for h in headers]
             for row in rows]
    widths = [max(len(h), *(len(line[i]) for line in cells)) for i, h in enumerate(headers)]
    print("  " + "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    for line in cells:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per test prompt (x20 for the 200K prompts)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    args = parser.parse_args(argv)
    train, test = load_cases("train"), load_cases("test")
    detector = [thinking_score(case.body) for case in test]
    hard = sum(case.needs_thinking for case in test)
    print(f"test split: {len(test)} cases ({hard} need thinking, {len(test) - hard} plain); "
          f"training split: {len(train)} cases (used only for the length baseline's threshold)")
    report = {"test_cases": len(test), "test_need_thinking": hard, "train_cases": len(train),
              "quality": quality(train, test, detector), "slices": slices(test, detector),
              "thresholds": threshold_table(test, detector), "overhead": overhead(test, args.repeat),
              "machine": _load_average()}
    _print_table("needs thinking? on the test split", report["quality"])
    _print_table(f"detector accuracy by slice (threshold {DEFAULT_THRESHOLD})", report["slices"])
    _print_table("precision / recall by thinking_detection.threshold", report["thresholds"])
    _print_table(f"added overhead per request (thinking_score; {_load_average()})", report["overhead"])
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
