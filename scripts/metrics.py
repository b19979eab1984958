"""Retrieval metrics by label, shared by evaluate.py and the quality tests (one code path).

Each query has a ranked list of gallery labels and knows how many gallery items share its
label (``relevant``); an item is relevant when its label equals the query's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def precision_at_k(ranked: Sequence[str], label: str, k: int) -> float:
    if k <= 0:
        raise ValueError("k must be positive")
    return sum(1 for item in ranked[:k] if item == label) / k


def average_precision_at_k(ranked: Sequence[str], label: str, k: int, relevant: int) -> float:
    """AP@k = (1 / min(relevant, k)) * sum of P@i over the ranks i <= k that are relevant."""
    if relevant <= 0:
        return 0.0
    hits, total = 0, 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item == label:
            hits += 1
            total += hits / rank
    return total / min(relevant, k)


def summarise(
    rankings: Sequence[Sequence[str]],
    labels: Sequence[str],
    gallery_labels: Sequence[str],
    k: int = 10,
) -> dict[str, float]:
    """Mean P@1, P@5, P@10 and mAP@k over all queries."""
    if not gallery_labels:
        raise ValueError("the gallery is empty")
    if len(rankings) != len(labels) or not labels:
        raise ValueError("one ranking per query, and at least one query")
    counts = Counter(gallery_labels)
    pairs = list(zip(rankings, labels, strict=True))

    def mean(values) -> float:
        return sum(values) / len(pairs)

    return {
        "queries": len(pairs),
        "p@1": mean(precision_at_k(r, q, 1) for r, q in pairs),
        "p@5": mean(precision_at_k(r, q, 5) for r, q in pairs),
        "p@10": mean(precision_at_k(r, q, 10) for r, q in pairs),
        f"map@{k}": mean(average_precision_at_k(r, q, k, counts[q]) for r, q in pairs),
    }
