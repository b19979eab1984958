"""An in-memory catalogue of the index's metadata, for browsing, paging and breed counts.

Milvus has no GROUP BY and no ordered paging, so the API keeps every row's scalar fields
(about 300 bytes a row: 6 MB at 20k images) and refreshes them when they are older than
``ttl_s``. Searches never use it: they go to Milvus, so a stale catalogue only delays how soon
a new image shows up in *browsing*. Beyond ~1M images, replace this with keyset paging.

Changes made through this API (add, delete, relabel) touch a marker file that every worker
checks (one ``stat``) before answering, so all workers see them at once, not after the TTL.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.vectorstore import VectorStore


def age_s(taken_at: float | None) -> float:
    """Seconds since ``taken_at`` (a ``time.monotonic()`` reading); infinite when never taken.

    ``time.monotonic()`` counts from boot, so a 0.0 "never" would look fresh for the first
    TTL seconds after a reboot.
    """
    return math.inf if taken_at is None else time.monotonic() - taken_at


@dataclass(frozen=True)
class Snapshot:
    rows: list[dict[str, Any]] = field(default_factory=list)  # sorted by breed, then path
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    breeds: list[dict[str, Any]] = field(default_factory=list)  # name, id, count; by name
    taken_at: float | None = None  # time.monotonic(); None: never taken, so always stale
    marker_ns: int = 0  # the change marker's mtime when the snapshot was taken

    def page(self, breed: str | None, page: int, per_page: int) -> tuple[list[dict], int]:
        rows = self.rows if breed is None else [r for r in self.rows if r["breed"] == breed]
        start = (page - 1) * per_page
        return rows[start : start + per_page], len(rows)

    def has_breed(self, breed: str) -> bool:
        return any(entry["name"] == breed for entry in self.breeds)


def build_snapshot(rows: list[dict[str, Any]], marker_ns: int = 0) -> Snapshot:
    rows = sorted(rows, key=lambda row: (row["breed"].casefold(), row["path"]))
    counts = Counter(row["breed"] for row in rows)
    breed_ids = {row["breed"]: row["breed_id"] for row in rows}
    breeds = [
        {"name": name, "id": breed_ids[name], "count": counts[name]}
        for name in sorted(counts, key=str.casefold)
    ]
    return Snapshot(rows, {row["id"]: row for row in rows}, breeds, time.monotonic(), marker_ns)


class Catalog:
    def __init__(self, store: VectorStore, ttl_s: float, marker: Path | None = None):
        self.store = store
        self.ttl_s = ttl_s
        self.marker = marker
        self._snapshot = Snapshot()
        self._lock = threading.Lock()

    def _marker_ns(self) -> int:
        try:
            return self.marker.stat().st_mtime_ns if self.marker else 0
        except OSError:
            return 0

    def _stale(self) -> bool:
        snapshot = self._snapshot
        return age_s(snapshot.taken_at) >= self.ttl_s or self._marker_ns() != snapshot.marker_ns

    def snapshot(self) -> Snapshot:
        """The current catalogue; refreshed from Milvus when stale (one refresher at a time)."""
        if not self._stale():
            return self._snapshot
        with self._lock:
            if self._stale():
                marker_ns = self._marker_ns()  # before reading: a change during the read wins
                rows = self.store.all_rows() if self.store.exists() else []
                self._snapshot = build_snapshot(rows, marker_ns)
        return self._snapshot

    def invalidate(self) -> None:
        """After a change: this worker refreshes now, and the marker tells the others."""
        self._snapshot = Snapshot()
        if self.marker is not None:
            with contextlib.suppress(OSError):  # a read-only folder: the others wait the TTL
                self.marker.parent.mkdir(parents=True, exist_ok=True)
                self.marker.touch()
