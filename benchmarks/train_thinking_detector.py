"""Train the thinking detector's weights: L2-regularised logistic regression on the training split.

    .venv/bin/python benchmarks/train_thinking_detector.py            # write policies/thinking_weights.json
    .venv/bin/python benchmarks/train_thinking_detector.py --check    # exit 1 if the shipped file is stale
    .venv/bin/python benchmarks/train_thinking_detector.py --cv       # 5-fold cross-validation per L2 strength

Only `benchmarks/data/thinking/train/` is read; the test split is for `thinking_detection.py`.
The fit is Newton's method (iteratively reweighted least squares) in plain Python over sparse
feature vectors, so it is exact, deterministic and needs no numerical library; the bias is not
regularised. The L2 strength is the one `--cv` chooses: the strongest in `L2_GRID` whose
cross-validated log loss is within `L2_TOLERANCE` of the best (the simplest model about as good as
the best fit, in the spirit of the one-standard-error rule).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness.classification import auroc, binary_scores  # noqa: E402
from benchmarks.harness.thinking_cases import DATA_DIR, ThinkingCase, load_cases  # noqa: E402
from policies.thinking_detector import FEATURE_NAMES, WEIGHTS_PATH, feature_vector  # noqa: E402

L2 = 0.3
"""Penalty on the squared weights (the log loss is summed, not averaged, over cases); `--cv` chose it."""
L2_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
L2_TOLERANCE = 0.05  # relative
FOLDS = 5
ITERATIONS = 50
DECIMALS = 6

Sparse = list[tuple[int, float]]


def _sparse(vector: Sequence[float]) -> Sparse:
    return [(0, 1.0)] + [(i + 1, x) for i, x in enumerate(vector) if x != 0.0]  # index 0: the bias


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the Hessian is positive definite)."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        head = a[col][col]
        for r in range(col + 1, n):
            factor = a[r][col] / head
            if factor:
                row, top = a[r], a[col]
                for c in range(col, n + 1):
                    row[c] -= factor * top[c]
    solution = [0.0] * n
    for r in range(n - 1, -1, -1):
        solution[r] = (a[r][n] - sum(a[r][c] * solution[c] for c in range(r + 1, n))) / a[r][r]
    return solution


def _probability(theta: list[float], x: Sparse) -> float:
    z = max(-30.0, min(30.0, sum(theta[i] * v for i, v in x)))
    return 1.0 / (1.0 + math.exp(-z))


def fit(rows: Sequence[Sparse], labels: Sequence[bool], l2: float, dims: int) -> list[float]:
    """[bias, *weights] minimising the summed log loss + l2/2 * |weights|^2."""
    theta = [0.0] * dims
    for _ in range(ITERATIONS):
        gradient = [l2 * t for t in theta]
        gradient[0] = 0.0
        hessian = [[0.0] * dims for _ in range(dims)]
        for i in range(1, dims):
            hessian[i][i] = l2
        for x, y in zip(rows, labels, strict=True):
            p = _probability(theta, x)
            residual, weight = p - (1.0 if y else 0.0), max(p * (1 - p), 1e-9)
            for i, v in x:
                gradient[i] += residual * v
                row = hessian[i]
                for j, u in x:
                    row[j] += weight * v * u
        step = _solve(hessian, gradient)
        theta = [t - s for t, s in zip(theta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-10:
            break
    return theta


def _log_loss(theta: list[float], rows: Sequence[Sparse], labels: Sequence[bool]) -> float:
    total = 0.0
    for x, y in zip(rows, labels, strict=True):
        p = min(max(_probability(theta, x), 1e-12), 1 - 1e-12)
        total -= math.log(p if y else 1 - p)
    return total / len(rows)


def _fold(case: ThinkingCase) -> int:
    return int(hashlib.sha256(case.id.encode()).hexdigest(), 16) % FOLDS


def cross_validate(cases: Sequence[ThinkingCase], l2: float, *, show_errors: bool = False) -> dict[str, float]:
    """Out-of-fold figures at threshold 0.5 for one L2 strength."""
    rows = [_sparse(feature_vector(case.body)) for case in cases]
    labels = [case.needs_thinking for case in cases]
    dims = len(FEATURE_NAMES) + 1
    scores = [0.0] * len(cases)
    for fold in range(FOLDS):
        train = [i for i, case in enumerate(cases) if _fold(case) != fold]
        theta = fit([rows[i] for i in train], [labels[i] for i in train], l2, dims)
        for i, case in enumerate(cases):
            if _fold(case) == fold:
                scores[i] = _probability(theta, rows[i])
    if show_errors:
        for case, score in sorted(zip(cases, scores, strict=True), key=lambda pair: pair[1]):
            if (score >= 0.5) != case.needs_thinking:
                print(f"  {score:.3f} {'think' if case.needs_thinking else 'plain'} {case.id} "
                      f"{case.body['messages'][-1]['content'][:90]!r}")
    figures = binary_scores([s >= 0.5 for s in scores], labels)
    loss = -sum(math.log(min(max(s if y else 1 - s, 1e-12), 1)) for s, y in zip(scores, labels, strict=True)) / len(scores)
    return {"auroc": auroc(scores, labels), "accuracy": figures.accuracy, "log_loss": loss}


def choose_l2(log_losses: dict[float, float]) -> float:
    """The strongest L2 whose log loss is within L2_TOLERANCE of the best one."""
    best = min(log_losses.values())
    return max(l2 for l2, loss in log_losses.items() if loss <= best * (1 + L2_TOLERANCE))


def data_fingerprint(split: str = "train") -> str:
    """SHA-256 over the split's files (names and bytes), to tie weights to the data they came from."""
    digest = hashlib.sha256()
    for path in sorted((DATA_DIR / split).glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def train_weights(l2: float = L2) -> dict:
    """The weight file's content, trained on the whole training split."""
    cases = load_cases("train")
    rows = [_sparse(feature_vector(case.body)) for case in cases]
    labels = [case.needs_thinking for case in cases]
    theta = fit(rows, labels, l2, len(FEATURE_NAMES) + 1)
    scores = [_probability(theta, x) for x in rows]
    return {
        "model": "logistic regression over policies.thinking_detector.FEATURE_NAMES",
        "trained_by": "benchmarks/train_thinking_detector.py",
        "train_split": "benchmarks/data/thinking/train",
        "train_sha256": data_fingerprint("train"),
        "train_cases": len(cases),
        "l2": l2,
        "train_accuracy": round(binary_scores([s >= 0.5 for s in scores], labels).accuracy, 4),
        "train_log_loss": round(_log_loss(theta, rows, labels), 4),
        "bias": round(theta[0], DECIMALS),
        "features": list(FEATURE_NAMES),
        "weights": {name: round(w, DECIMALS) for name, w in zip(FEATURE_NAMES, theta[1:], strict=True)},
    }


def render(weights: dict) -> str:
    return json.dumps(weights, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH, help=f"weight file (default {WEIGHTS_PATH})")
    parser.add_argument("--l2", type=float, default=L2, help=f"L2 strength (default {L2})")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out differs from a fresh training run")
    parser.add_argument("--cv", action="store_true", help="print 5-fold cross-validation figures per L2 strength")
    parser.add_argument("--errors", action="store_true", help="with --cv: list the out-of-fold mistakes at --l2")
    args = parser.parse_args(argv)
    if args.cv:
        cases = load_cases("train")
        print(f"{FOLDS}-fold cross-validation on {len(cases)} training cases")
        losses = {}
        for l2 in L2_GRID:
            figures = cross_validate(cases, l2)
            losses[l2] = figures["log_loss"]
            print(f"l2 {l2:>5}: AUROC {figures['auroc']:.3f}  accuracy {figures['accuracy']:.3f}  log loss {figures['log_loss']:.3f}")
        print(f"chosen: l2 {choose_l2(losses)} (the strongest within {L2_TOLERANCE:.0%} of the best log loss)")
        if args.errors:
            print(f"out-of-fold mistakes at l2 {args.l2}:")
            cross_validate(cases, args.l2, show_errors=True)
        return 0
    text = render(train_weights(args.l2))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run {Path(__file__).relative_to(ROOT)} to retrain", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(FEATURE_NAMES)} features, trained on {json.loads(text)['train_cases']} cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
