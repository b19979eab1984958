"""Retrieval metrics by label, shared by evaluate.py and the quality tests (one code path).

Each query has a ranked list of gallery labels and knows how many gallery items share its
label (``relevant``); an item is relevant when its label equals the query's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def rank_gallery(queries: np.ndarray, gallery: np.ndarray, depth: int, chunk: int = 256):
    """Exact cosine ranking of unit vectors: ``[Q, depth]`` gallery indices, best first.

    Ties keep gallery order (a stable sort), so results are reproducible.
    """
    if len(gallery) == 0:
        raise ValueError("the gallery is empty")
    depth = min(depth, len(gallery))
    out = np.empty((len(queries), depth), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        sims = queries[start : start + chunk] @ gallery.T
        out[start : start + chunk] = np.argsort(-sims, axis=1, kind="stable")[:, :depth]
    return out


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


def map_at_r(ranked: Sequence[str], label: str, relevant: int) -> float:
    """MAP@R (Musgrave et al., 2020): AP over the first R results, R = number of relevant."""
    if relevant <= 0:
        return 0.0
    if len(ranked) < relevant:
        raise ValueError(f"MAP@R needs {relevant} ranked results, got {len(ranked)}")
    return average_precision_at_k(ranked, label, relevant, relevant)


def hit_at_k(ranked: Sequence[str], label: str, k: int) -> float:
    """Recall@k as metric learning reports it: 1 if any of the first k is relevant."""
    return float(label in ranked[:k])


def summarise(
    rankings: Sequence[Sequence[str]],
    labels: Sequence[str],
    gallery_labels: Sequence[str],
    k: int = 10,
    with_map_at_r: bool = False,
) -> dict[str, float]:
    """Mean P@1/5/10, mAP@k and recall@1/5/10 over all queries (and MAP@R when asked)."""
    if not gallery_labels:
        raise ValueError("the gallery is empty")
    if len(rankings) != len(labels) or not labels:
        raise ValueError("one ranking per query, and at least one query")
    counts = Counter(gallery_labels)
    pairs = list(zip(rankings, labels, strict=True))

    def mean(values) -> float:
        return sum(values) / len(pairs)

    result = {
        "queries": len(pairs),
        "p@1": mean(precision_at_k(r, q, 1) for r, q in pairs),
        "p@5": mean(precision_at_k(r, q, 5) for r, q in pairs),
        "p@10": mean(precision_at_k(r, q, 10) for r, q in pairs),
        f"map@{k}": mean(average_precision_at_k(r, q, k, counts[q]) for r, q in pairs),
        "recall@1": mean(hit_at_k(r, q, 1) for r, q in pairs),
        "recall@5": mean(hit_at_k(r, q, 5) for r, q in pairs),
        "recall@10": mean(hit_at_k(r, q, 10) for r, q in pairs),
    }
    if with_map_at_r:
        result["map@r"] = mean(map_at_r(r, q, counts[q]) for r, q in pairs)
    return result


def per_label(
    rankings: Sequence[Sequence[str]], labels: Sequence[str], k: int = 10
) -> dict[str, dict[str, float]]:
    """P@1 and P@k of each query label, by label name."""
    grouped: dict[str, list[Sequence[str]]] = {}
    for ranked, label in zip(rankings, labels, strict=True):
        grouped.setdefault(label, []).append(ranked)
    return {
        label: {
            "queries": len(group),
            "p@1": sum(precision_at_k(r, label, 1) for r in group) / len(group),
            f"p@{k}": sum(precision_at_k(r, label, k) for r in group) / len(group),
        }
        for label, group in sorted(grouped.items())
    }


def confused_pairs(
    rankings: Sequence[Sequence[str]], labels: Sequence[str], k: int = 10, top: int = 10
) -> list[dict]:
    """The label pairs most often mixed up in the first k results, either way round."""
    counts: Counter[tuple[str, str]] = Counter()
    for ranked, label in zip(rankings, labels, strict=True):
        for item in ranked[:k]:
            if item != label:
                counts[tuple(sorted((label, item)))] += 1
    return [{"breeds": list(pair), "count": n} for pair, n in counts.most_common(top)]


def breed_guess(predictions: Sequence[Sequence[str]], labels: Sequence[str]) -> dict[str, float]:
    """Top-1 and top-5 accuracy of the breed guesses (each a list, best first)."""
    pairs = list(zip(predictions, labels, strict=True))
    return {
        "breed_top1": sum(bool(p) and p[0] == label for p, label in pairs) / len(pairs),
        "breed_top5": sum(label in p[:5] for p, label in pairs) / len(pairs),
    }


def is_dog_metrics(dogs: np.ndarray, others: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision and recall of "is a dog" (score >= ``threshold``); dogs are the positives."""
    true_positives = int((dogs >= threshold).sum())
    false_positives = int((others >= threshold).sum())
    called = true_positives + false_positives
    return {
        "is_dog_precision": true_positives / called if called else 0.0,
        "is_dog_recall": true_positives / len(dogs) if len(dogs) else 0.0,
        "is_dog_threshold": threshold,
        "not_dogs_taken_for_dogs": false_positives,
        "dogs_missed": len(dogs) - true_positives,
    }


def match_bands(
    best: np.ndarray, right_breed: np.ndarray, weak: float, strong: float
) -> dict[str, float]:
    """How the queries fall into the match-strength bands (by their best result's similarity),
    and how often a strong match's best result is the right breed."""
    strong_matches = best >= strong
    return {
        "match_strong_share": float(strong_matches.mean()),
        "match_strong_right_breed": float(right_breed[strong_matches].mean())
        if strong_matches.any()
        else 0.0,
        "match_none_share": float((best < weak).mean()),
    }
