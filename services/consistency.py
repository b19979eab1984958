"""The consistency level of every Milvus read, chosen here and nowhere else.

On a Milvus server a write becomes visible to reads only after the next time tick (200 ms by
default). *Strong* reads wait for that tick, so they see every write made before them, but
they cost up to a tick each, written or not; *Bounded* reads (the collection default) answer
at once from what is visible, which may miss the writes of the last moments (at most
``common.gracefulTime``, 5 s). Measured on the server binary with a 2 s tick: a search right
after an insert missed it every time under Bounded (3 ms), and saw it under Strong (about 2 s,
also with no write at all). *Session* guarantees read-your-writes only on the connection that
wrote, not across gunicorn workers, containers or the ingest job, so it is not used.

Each read, its level, and why:

- Searches, "more like this", a photo by id, the count, the near-duplicate scan: Bounded, but
  Strong for ``MILVUS_STRONG_AFTER_WRITE_S`` (5 s) after any change to the index. The user
  who adds, relabels or deletes a photo sees it in the next search, count and duplicates
  page; bulk traffic pays nothing. (The server tests found the duplicates page empty right
  after adding a copy when its scan was always Bounded.)
- The browse catalogue, refreshed because the index changed: Strong, so browsing right after
  a change shows it. Refreshed on its TTL alone: Bounded; nothing changed through us.
- Reads that decide a write (which ids exist, for ingest and add; the rows that a delete,
  relabel or restore rewrites): Strong. Never write from a stale read.
- The deleted-photo records (``services/deleted.py``): Strong; ingest must never miss one.
- The warm-up search at start: Bounded.

"A change" is any write, by this process or another: every writer (each API worker, ingest)
touches a marker file in the library folder, which every API worker shares (compose mounts it
into the jobs too). Milvus Lite accepts the levels and is always up to date.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

STRONG = "Strong"
BOUNDED = "Bounded"
MARKER_NAME = ".index-changed"


class ChangeMarker:
    """A file whose modification time says when the index last changed, for every process."""

    def __init__(self, path: Path | None):
        self.path = path

    def touch(self) -> None:
        if self.path is None:
            return
        with contextlib.suppress(OSError):  # a read-only folder: other processes wait the TTL
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()

    def mtime_ns(self) -> int:
        try:
            return self.path.stat().st_mtime_ns if self.path else 0
        except OSError:
            return 0


class ReadConsistency:
    """Bounded reads, or Strong ones for ``window_s`` after any change to the index."""

    def __init__(self, marker: ChangeMarker | None = None, window_s: float = 5.0):
        self.marker = marker or ChangeMarker(None)
        self.window_s = window_s
        self._own_write: float | None = None  # time.monotonic(): works without a marker file

    def wrote(self) -> None:
        """Called after every write: this process and, through the marker, every other."""
        self._own_write = time.monotonic()
        self.marker.touch()

    def recently_changed(self) -> bool:
        if self._own_write is not None and time.monotonic() - self._own_write < self.window_s:
            return True
        changed_ns = self.marker.mtime_ns()
        return bool(changed_ns) and time.time() - changed_ns / 1e9 < self.window_s

    def for_search(self) -> str:
        return STRONG if self.recently_changed() else BOUNDED
