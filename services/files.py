"""Photo files on disk: where a stored photo's file is, and writing files safely."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from services.dataset import LIBRARY_PREFIX, safe_join

TRASH = ".trash"  # inside the library folder: deleted library photos, until restored or purged


@dataclass(frozen=True)
class PhotoFiles:
    """The two roots a stored path can point into: the read-only dataset folder, and the
    writable library of photos added through the API (paths ``@library/...``)."""

    dataset_root: Path
    library_dir: Path

    def path_of(self, stored_path: str) -> Path | None:
        """The file a stored path names, if it stays inside its root (after resolving links);
        ``None`` for a path that tries to leave it. The file may not exist."""
        if stored_path.startswith(LIBRARY_PREFIX):
            return safe_join(self.library_dir, stored_path[len(LIBRARY_PREFIX) :])
        return safe_join(self.dataset_root, stored_path)

    def existing(self, stored_path: str) -> Path | None:
        """The file, or ``None`` when it is missing or outside its root."""
        path = self.path_of(stored_path)
        return path if path is not None and path.is_file() else None

    def trash_of(self, stored_path: str) -> Path | None:
        """Where a deleted library photo's file waits to be restored (``None`` for dataset
        originals, which stay where they are)."""
        if not stored_path.startswith(LIBRARY_PREFIX):
            return None
        return safe_join(self.library_dir / TRASH, stored_path[len(LIBRARY_PREFIX) :])

    def deleted_file(self, stored_path: str) -> Path | None:
        """The file of a deleted photo: in the trash (library) or in place (dataset)."""
        path = self.trash_of(stored_path) if stored_path.startswith(LIBRARY_PREFIX) else None
        if path is None:
            return self.existing(stored_path)
        return path if path.is_file() else None


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, then rename it into place.

    Raises ``OSError`` (after removing the temporary file) when the folder cannot be made or
    the disk is full or read-only; the caller decides whether that matters.
    """
    tmp_name = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".tmp") as tmp:
            tmp_name = tmp.name
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except OSError:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
        raise


class NotWritable(OSError):
    """A job's output folder cannot be written; the message says whose it is and what to do."""


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove that a file can be written in it, before a job
    spends hours on work it could not save. Raises :class:`NotWritable` with advice."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        try:
            owner = f"owned by uid {folder.stat().st_uid}"
        except OSError:
            owner = "not creatable"
        raise NotWritable(
            f"cannot write to {folder} ({error.strerror or error}): it is {owner} and this job "
            f"runs as uid {os.getuid()}. With docker compose, run the job through compose (its "
            "`prepare` step hands folders the engine created to the job's user); otherwise give "
            f"the folder to uid {os.getuid()} (sudo chown -R {os.getuid()} <folder>)."
        ) from None
