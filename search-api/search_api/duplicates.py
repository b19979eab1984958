"""Near-duplicate groups: photos whose look is closer than a cosine threshold.

Exact duplicates cannot exist (ids are content hashes), but re-encoded, resized or lightly
edited copies of one photo can. Every pair is compared exactly (blocked matrix products in
numpy, O(N^2 d)): a few seconds at 20k images, so the answer is cached until the index
changes. Pairs above the threshold are joined into groups (union-find), so A~B and B~C make
one group even when A and C are a little further apart. The look is the appearance part of
each vector (``ModelInfo.appearance``): the breed part would join every confident photo of a
breed. Groups and their members are ordered by id, not by where the store keeps the rows, so a
deleted and restored photo (stored again, last) leaves the groups as they were.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from services.consistency import ChangeMarker
from services.protocols import PhotoStore

BLOCK = 1024


def similar_pairs(vectors: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Every ``(i, j, cosine)`` with ``i < j`` and cosine >= ``threshold`` (unit vectors)."""
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, len(vectors), BLOCK):
        block = vectors[start : start + BLOCK] @ vectors[start:].T  # only j >= i is needed
        rows, cols = np.nonzero(block >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i, j = start + r, start + c
            if i < j:
                pairs.append((i, j, float(block[r, c])))
    return pairs


def group_pairs(count: int, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    """Connected components of the pairs, each sorted, largest groups first."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    members: dict[int, set[int]] = {}
    for i, j, _ in pairs:
        members.setdefault(root(i), set()).update((i, j))
    return sorted((sorted(group) for group in members.values()), key=lambda g: (-len(g), g[0]))


class DuplicateFinder:
    """Groups for a threshold, cached until the index changes: a change through any process
    moves the marker, and ingest or a re-index (which may not) changes the count."""

    def __init__(self, store: PhotoStore, marker: ChangeMarker | None = None):
        self.store = store
        self.marker = marker or ChangeMarker(None)
        self._cache: dict[tuple[int, int, float], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def groups(self, threshold: float) -> dict[str, Any]:
        count = self.store.count() if self.store.model() is not None else 0
        key = (self.marker.mtime_ns(), count, round(threshold, 4))
        with self._lock:  # one computation at a time; the others wait for its answer
            if key not in self._cache:
                self._cache = {key: self._compute(threshold)}
            return self._cache[key]

    def _compute(self, threshold: float) -> dict[str, Any]:
        started = time.perf_counter()
        model = self.store.model()
        if model is None:
            return {"groups": [], "compared": 0, "seconds": 0.0}
        ids, vectors = self.store.all_vectors()
        if not ids:
            return {"groups": [], "compared": 0, "seconds": 0.0}
        pairs = similar_pairs(model.appearance(vectors), threshold)
        best: dict[int, float] = {}
        for i, j, similarity in pairs:
            best[i] = max(best.get(i, 0.0), similarity)
            best[j] = max(best.get(j, 0.0), similarity)
        groups: list[dict[str, Any]] = [
            {
                "ids": sorted(ids[i] for i in group),
                "max_similarity": round(max(best[i] for i in group), 5),
            }
            for group in group_pairs(len(ids), pairs)
        ]
        groups.sort(key=lambda group: (-len(group["ids"]), group["ids"][0]))
        return {
            "groups": groups,
            "compared": len(ids),
            "seconds": round(time.perf_counter() - started, 2),
        }
