"""Retrieval metrics by label, shared by evaluate.py and the quality tests (one code path).

Each query has a ranked list of gallery labels and knows how many gallery items share its
label (``relevant``); an item is relevant when its label equals the query's.
"""

from __future__ import annotations

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
    counts: dict[str, int] = {}
    for label in gallery_labels:
        counts[label] = counts.get(label, 0) + 1
    n = len(labels)
    return {
        "queries": n,
        "p@1": sum(precision_at_k(r, q, 1) for r, q in zip(rankings, labels, strict=True)) / n,
        "p@5": sum(precision_at_k(r, q, 5) for r, q in zip(rankings, labels, strict=True)) / n,
        "p@10": sum(precision_at_k(r, q, 10) for r, q in zip(rankings, labels, strict=True)) / n,
        f"map@{k}": sum(
            average_precision_at_k(r, q, k, counts.get(q, 0))
            for r, q in zip(rankings, labels, strict=True)
        )
        / n,
    }
