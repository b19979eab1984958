"""An in-memory catalogue of the index's metadata, for browsing, paging and breed counts.

Milvus has no GROUP BY and no ordered paging, so the API keeps every row's scalar fields
(about 300 bytes a row: 6 MB at 20k images) and refreshes them when they are older than
``ttl_s``. Searches never use it: they go to Milvus, so a stale catalogue only delays how soon
a new image shows up in *browsing*. Beyond ~1M images, replace this with keyset paging.

Every change to the index (through any API worker, or by ingest) touches a marker file that
every worker checks (one ``stat``) before answering, so all workers see it at once, not after
the TTL; a refresh that a change caused reads Milvus strongly (``services/consistency.py``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from services.consistency import ChangeMarker
from services.dataset import breed_key, breed_label
from services.photo import Photo
from services.protocols import PhotoStore


def age_s(taken_at: float | None) -> float:
    """Seconds since ``taken_at`` (a ``time.monotonic()`` reading); infinite when never taken.

    ``time.monotonic()`` counts from boot, so a 0.0 "never" would look fresh for the first
    TTL seconds after a reboot.
    """
    return math.inf if taken_at is None else time.monotonic() - taken_at


@dataclass(frozen=True)
class Snapshot:
    rows: list[Photo] = field(default_factory=list)  # sorted by breed, then path; no vectors
    by_id: dict[str, Photo] = field(default_factory=dict)
    breeds: list[dict[str, Any]] = field(default_factory=list)  # name, id, count; by name
    taken_at: float | None = None  # time.monotonic(); None: never taken, so always stale
    marker_ns: int = 0  # the change marker's mtime when the snapshot was taken

    def page(self, breed: str | None, page: int, per_page: int) -> tuple[list[Photo], int]:
        rows = self.rows if breed is None else [r for r in self.rows if r.breed == breed]
        start = (page - 1) * per_page
        return rows[start : start + per_page], len(rows)

    def find_breed(self, breed: str) -> str | None:
        """The stored name of a breed in the index, matched without regard to case, spaces or
        underscores (``lhasa``, ``Golden_Retriever``), or ``None``."""
        wanted = breed_key(breed)
        return next((e["name"] for e in self.breeds if breed_key(e["name"]) == wanted), None)

    def has_breed(self, breed: str) -> bool:
        return self.find_breed(breed) is not None


def build_snapshot(rows: list[Photo], marker_ns: int = 0) -> Snapshot:
    rows = sorted(rows, key=lambda row: (row.breed.casefold(), row.path))
    counts = Counter(row.breed for row in rows)
    breed_ids = {row.breed: row.breed_id for row in rows}
    breeds = [
        {"name": name, "label": breed_label(name), "id": breed_ids[name], "count": counts[name]}
        for name in sorted(counts, key=str.casefold)
    ]
    return Snapshot(rows, {row.id: row for row in rows}, breeds, time.monotonic(), marker_ns)


class Catalog:
    def __init__(self, store: PhotoStore, ttl_s: float, marker: ChangeMarker | None = None):
        self.store = store
        self.ttl_s = ttl_s
        self.marker = marker or ChangeMarker(None)
        self._snapshot = Snapshot()
        self._lock = threading.Lock()

    def _changed(self, snapshot: Snapshot) -> bool:
        return snapshot.taken_at is None or self.marker.mtime_ns() != snapshot.marker_ns

    def _stale(self) -> bool:
        snapshot = self._snapshot
        return age_s(snapshot.taken_at) >= self.ttl_s or self._changed(snapshot)

    def snapshot(self) -> Snapshot:
        """The current catalogue; refreshed from Milvus when stale (one refresher at a time)."""
        if not self._stale():
            return self._snapshot
        with self._lock:
            if self._stale():
                strong = self._changed(self._snapshot)
                marker_ns = self.marker.mtime_ns()  # before reading: a change during it wins
                rows = self.store.all_rows(strong=strong) if self.store.exists() else []
                self._snapshot = build_snapshot(rows, marker_ns)
        return self._snapshot

    def invalidate(self) -> None:
        """After a change: this worker refreshes now, and the marker tells the others."""
        self._snapshot = Snapshot()
        self.marker.touch()
