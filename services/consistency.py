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
  for ``MILVUS_STRONG_AFTER_WRITE_S`` (5 s) after any change to the index they wait for that
  change: at a timestamp Milvus gave just after the write (``VectorStore.last_write_ts``) as
  the read's guarantee timestamp, so the read waits only until that write is visible, not for
  the next tick after "now" as Strong does; at Strong when the change has no timestamp (an
  alias switch; Milvus Lite; a marker written by an older version). The user who adds,
  relabels or deletes a
  photo sees it in the next search, count and duplicates page; bulk traffic pays nothing.
  (The server tests found the duplicates page empty right after adding a copy when its scan
  was always Bounded.)
- The browse catalogue, refreshed because the index changed: Strong, so browsing right after
  a change shows it. Refreshed on its TTL alone: Bounded; nothing changed through us.
- Reads that decide a write (which ids exist, for ingest and add; the rows that a delete,
  relabel or restore rewrites): Strong. Never write from a stale read.
- The deleted-photo records (``services/deleted.py``): Strong; ingest must never miss one.
- The warm-up search at start: Bounded.

"A change" is any write, by this process or another: the store itself (each API worker's,
ingest's, a re-index's) writes the write's timestamp into a marker file in the library folder,
which every API worker shares (compose mounts it into the jobs too); nothing else has to
remember. Hybrid timestamps come from one clock for the whole Milvus, so a write to one
collection is a valid guarantee for a read of another (a re-index's new one). Milvus Lite
accepts the levels and the guarantee timestamp, and is always up to date.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STRONG = "Strong"
BOUNDED = "Bounded"
CUSTOMIZED = "Customized"  # pymilvus passes our guarantee timestamp through only at this level
MARKER_NAME = ".index-changed"


@dataclass(frozen=True)
class Level:
    """A read's consistency: a level name, and for :data:`CUSTOMIZED` the hybrid timestamp
    of the write the read must see."""

    name: str
    guarantee_ts: int = 0

    def kwargs(self) -> dict[str, Any]:
        """The pymilvus keyword arguments of a read at this level."""
        if self.name == CUSTOMIZED:
            return {"consistency_level": CUSTOMIZED, "guarantee_timestamp": self.guarantee_ts}
        return {"consistency_level": self.name}


def level_of(level: str | Level) -> Level:
    return level if isinstance(level, Level) else Level(level)


class ChangeMarker:
    """A file whose modification time says when the index last changed, for every process,
    and whose text is that change's Milvus timestamp (``0``: unknown)."""

    def __init__(self, path: Path | None):
        self.path = path

    def touch(self, write_ts: int | None = None) -> None:
        """Say the index changed: at ``write_ts`` (0: at an unknown time), or, with ``None``
        (the catalogue after a write the store has announced), keeping the recorded one.

        A timestamp never replaces a larger one: writers in two processes may finish in the
        other order than Milvus stamped them, and a reader waiting for the older would miss the
        newer write. So the file is read and replaced under a lock every writer shares.
        """
        if self.path is None:
            return
        with contextlib.suppress(OSError):  # a read-only folder: other processes wait the TTL
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if write_ts is None and self.path.exists():
                os.utime(self.path)
                return
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                recorded = self.write_ts()
                newest = max(write_ts, recorded) if write_ts and recorded else write_ts or 0
                staged = self.path.with_name(
                    f"{self.path.name}.{os.getpid()}.{threading.get_ident()}"
                )
                staged.write_text(str(newest))
                os.replace(staged, self.path)  # a reader never sees a half-written timestamp

    def mtime_ns(self) -> int:
        try:
            return self.path.stat().st_mtime_ns if self.path else 0
        except OSError:
            return 0

    def write_ts(self) -> int:
        """The last change's Milvus timestamp, or 0 when unknown."""
        try:
            return int(self.path.read_text().strip() or 0) if self.path else 0
        except (OSError, ValueError):
            return 0


class ReadConsistency:
    """Bounded reads, or reads that wait for the last change for ``window_s`` after it."""

    def __init__(self, marker: ChangeMarker | None = None, window_s: float = 5.0):
        self.marker = marker or ChangeMarker(None)
        self.window_s = window_s
        self._own_write: float | None = None  # time.monotonic(): works without a marker file
        self._own_ts = 0

    def wrote(self, write_ts: int = 0) -> None:
        """Called by the store after every write, with the write's Milvus timestamp (0 when
        it has none, as an alias switch): this process and, through the marker, every other."""
        self._own_write = time.monotonic()
        self._own_ts = write_ts
        self.marker.touch(write_ts)

    def _last_change(self) -> tuple[bool, int]:
        """(whether the index changed within the window, the newest change's timestamp or 0)."""
        own = self._own_write is not None and time.monotonic() - self._own_write < self.window_s
        changed_ns = self.marker.mtime_ns()
        other = bool(changed_ns) and time.time() - changed_ns / 1e9 < self.window_s
        if not (own or other):
            return False, 0
        own_ts = self._own_ts if own else None
        other_ts = self.marker.write_ts() if other else None
        known = [ts for ts in (own_ts, other_ts) if ts is not None]
        return True, 0 if 0 in known else max(known)

    def recently_changed(self) -> bool:
        return self._last_change()[0]

    def for_search(self) -> Level:
        changed, write_ts = self._last_change()
        if not changed:
            return Level(BOUNDED)
        return Level(CUSTOMIZED, write_ts) if write_ts else Level(STRONG)
