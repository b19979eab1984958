"""Deleting photos so that a deletion can be undone, and stays a deletion until it is.

Every deleted photo is recorded (:mod:`services.deleted`) and can be restored:

- a dataset original stays where it is (the dataset is read-only); its record keeps ingest
  from adding it again;
- a photo added through the API moves to the library's trash folder (``.trash``), from which
  a restore moves it back; purging it removes the file for good.

Order, so that whatever fails, no row points at a missing file and nothing is lost:

- delete: record the deletions (a failure changes nothing), remove the rows (a failure forgets
  the records again), then move library files to the trash and drop thumbnails; a file that
  cannot be moved puts its row back.
- restore: encode the photo again from its file, move a library file back, upsert its row
  (a failure moves the file back to the trash), then forget the record. A photo that is live
  again (added anew after its deletion) is never overwritten: its stale record is dropped.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_api.library import FileStoreError, Library
from services.dataset import content_id
from services.errors import ApiError, InvalidImage, NotFound
from services.photo import Photo

log = logging.getLogger(__name__)


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source.replace(target)


@dataclass
class RecycleBin:
    library: Library

    def __post_init__(self) -> None:
        self.store = self.library.store
        self.deleted = self.library.deleted
        self.files = self.library.files

    def delete(self, ids: list[str]) -> dict[str, Any]:
        """Remove rows, keep the photos restorable; see the module docstring for the order."""
        photos = self.store.get(ids, with_vectors=True, to_write=True)
        missing = sorted(set(ids) - {photo.id for photo in photos})
        if not photos:
            return {"deleted": [], "missing": missing, "files_kept": []}
        deleted = [photo.id for photo in photos]
        self.deleted.record(photos)  # first: a later ingest must not bring them back
        try:
            self.store.delete(deleted)
        except ApiError:
            self.deleted.forget(deleted)
            raise
        for photo in photos:
            with contextlib.suppress(OSError):
                self.library.thumbnail_of(photo.id).unlink(missing_ok=True)
            if photo.in_library:
                self._to_trash(photo)
        originals = [photo.id for photo in photos if not photo.in_library]
        log.info("images deleted", extra={"count": len(photos), "missing": len(missing)})
        return {"deleted": deleted, "missing": missing, "files_kept": originals}

    def _to_trash(self, photo: Photo) -> None:
        path, trash = self.files.existing(photo.path), self.files.trash_of(photo.path)
        if path is None or trash is None:
            return  # already gone: nothing to keep
        try:
            _move(path, trash)
        except OSError as error:
            self.store.upsert([photo])  # put the row back: never a row without its file
            self.deleted.forget([photo.id])
            raise FileStoreError(
                f"could not move the file of {photo.id} to the trash ({error}); it is kept"
            ) from None

    def deleted_photos(self) -> list[dict[str, Any]]:
        """Every deleted photo, newest first, as the API shows them."""
        return [record.to_json() for record in self.deleted.all()]

    def restore(self, image_id: str) -> dict[str, Any]:
        """Put a deleted photo back: encoded again from its file, then searchable."""
        record = self.deleted.get(image_id)
        if record is None:
            if self.store.get([image_id], to_write=True):
                return {"status": "exists", "id": image_id}
            raise NotFound(f"no deleted photo with id {image_id}")
        live = self.store.get([image_id], to_write=True)
        if live:  # added again since: the live photo wins, never overwritten by the record
            self.library.resolve_deleted(image_id)
            return {"status": "exists", "id": image_id}
        source = self.files.deleted_file(record.path)
        if source is None:
            raise ApiError(
                f"the file of {image_id} ({record.path}) is gone, so it cannot be restored",
                code="file_missing",
                status=409,
            )
        data = source.read_bytes()
        if content_id(data) != image_id:
            raise ApiError(
                f"{record.path} changed since it was deleted; run the ingest to index it anew",
                code="file_changed",
                status=409,
            )
        model, (result,) = self.library.encode_for_index([(record.path, data)])
        if not result.ok:
            raise InvalidImage(result.error_message or "invalid image", code=result.error_code)
        photo = record.restored(model, result)
        moved_to = self.files.path_of(record.path) if record.in_library else None
        if moved_to is not None:
            _move(source, moved_to)
        try:
            self.store.upsert([photo])
        except ApiError:
            if moved_to is not None:
                _move(moved_to, source)
            raise
        self.deleted.forget([image_id])
        log.info("image restored", extra={"id": image_id, "path": record.path})
        return {"status": "restored", **photo.to_json()}

    def purge(self, image_id: str) -> dict[str, Any]:
        """Delete a photo added through the API for good: its file leaves the trash."""
        record = self.deleted.get(image_id)
        if record is None:
            raise NotFound(f"no deleted photo with id {image_id}")
        trash = self.files.trash_of(record.path)
        if trash is None:
            raise ApiError(
                "a dataset original cannot be purged: its file is part of the dataset, and "
                "the record of its deletion keeps ingest from adding it again",
                code="read_only_original",
                status=409,
            )
        trash.unlink(missing_ok=True)
        self.deleted.forget([image_id])
        log.info("image purged", extra={"id": image_id})
        return {"status": "purged", "id": image_id}
