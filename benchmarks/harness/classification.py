"""Binary-classifier figures for the thinking-detection benchmark: AUROC, accuracy, precision, recall."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BinaryScores", "auroc", "binary_scores"]


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: the chance a random positive scores above a random negative (ties count half).

    Mann-Whitney U over average ranks; 0.5 when either class is empty.
    """
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = sum(rank for rank, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@dataclass(frozen=True, slots=True)
class BinaryScores:
    """Accuracy, precision and recall of "needs thinking" at one threshold."""

    accuracy: float
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int


def binary_scores(predicted: Sequence[bool], labels: Sequence[bool]) -> BinaryScores:
    """Figures of hard predictions; precision is 0 when nothing is predicted positive."""
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and y)
    fp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and not y)
    fn = sum(1 for p, y in zip(predicted, labels, strict=True) if not p and y)
    tn = len(labels) - tp - fp - fn
    return BinaryScores(
        accuracy=(tp + tn) / len(labels) if labels else 0.0,
        precision=tp / (tp + fp) if tp + fp else 0.0,
        recall=tp / (tp + fn) if tp + fn else 0.0,
        true_positives=tp, false_positives=fp, false_negatives=fn, true_negatives=tn,
    )
