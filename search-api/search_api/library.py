"""Library management: add photos, delete them, change their breed label, consistently.

Two places hold an image: its file and its Milvus row (plus a cached thumbnail, which can
always be rebuilt). Every change keeps them in step, whatever fails:

- add: write the file (atomically), then upsert the row; a failed upsert removes the file.
- delete: record the deletion of dataset originals (a failure changes nothing), remove the
  rows (a failure forgets the record again), then the files; a file that cannot be removed
  puts the row back, so no row ever points at a missing file.
- restore: encode the original again, upsert its row, then forget the record.

Uploaded files live under the library folder (writable); rows name them ``@library/...``, and
deleting one deletes its file. Dataset originals are a read-only source: deleting one removes
it from the index and its thumbnail, leaves the original where it is, and records the
deletion (:mod:`services.deleted`) so that ingest never adds it again until it is restored.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.dataset import LIBRARY_PREFIX, UNKNOWN_BREED, BreedList, content_id
from services.deleted import DeletedPhotos
from services.encoder_client import EncoderClient
from services.errors import ApiError, InvalidImage, NotFound
from services.files import PhotoFiles, write_atomically
from services.imaging import sniff_format
from services.photo import Photo, image_urls
from services.schema import EncodedImage, ModelInfo
from services.vectorstore import VectorStore, check_same_model

log = logging.getLogger(__name__)
EXTENSIONS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "GIF": ".gif",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "TIFF": ".tif",
}


class FileStoreError(ApiError):
    status = 500
    code = "storage_error"


@dataclass
class Library:
    store: VectorStore
    encoder: EncoderClient
    files: PhotoFiles
    thumb_cache_dir: Path
    deleted: DeletedPhotos
    breeds: BreedList = field(default_factory=BreedList.load)

    # ----- where files are -------------------------------------------------------------------

    def file_of(self, row: dict[str, Any]) -> Path | None:
        """The row's file (library or dataset), or ``None`` when missing or outside its root."""
        return self.files.existing(row["path"])

    @property
    def library_dir(self) -> Path:
        return self.files.library_dir

    def thumbnail_of(self, image_id: str) -> Path:
        return self.thumb_cache_dir / image_id[:2] / f"{image_id}.jpg"

    # ----- breed labels ----------------------------------------------------------------------

    def label(self, raw: str | None) -> tuple[str, int]:
        """A breed from the official list (any spelling), or ``unknown``; else a 400."""
        name = (raw or "").strip() or UNKNOWN_BREED
        if name.casefold() == UNKNOWN_BREED.casefold():
            return UNKNOWN_BREED, -1
        index = self.breeds.index_of(name)
        if index < 0:
            raise ApiError(
                f"unknown breed {name[:80]!r}: use a name from the breed list or 'unknown'",
                code="unknown_breed",
            )
        return self.breeds.names[index], index

    # ----- add -------------------------------------------------------------------------------

    def _encode_for_index(self, uploads: list[tuple[str, bytes]]) -> tuple[ModelInfo, list]:
        model, encoded = self.encoder.encode(uploads)
        self.store.ensure_collection(model)  # creates it for the first photo of a new library
        stored = self.store.model()
        if stored is not None:
            check_same_model(stored, model, self.store.collection)
        return model, encoded

    def add(self, uploads: list[tuple[str, bytes]], breed: str | None) -> list[dict[str, Any]]:
        """Encode, store and index each upload; one result per upload, in order."""
        breed_name, breed_id = self.label(breed)
        model, encoded = self._encode_for_index(uploads)
        ids = [content_id(data) for _, data in uploads]
        existing = self.store.existing_ids([i for i, e in zip(ids, encoded, strict=True) if e.ok])
        results: list[dict[str, Any]] = []
        for (name, data), image_id, result in zip(uploads, ids, encoded, strict=True):
            if not result.ok:
                results.append(
                    {
                        "file": name,
                        "status": "failed",
                        "error": {"code": result.error_code, "message": result.error_message},
                    }
                )
                continue
            if image_id in existing:
                results.append({"file": name, "id": image_id, "status": "exists"})
                continue
            suffix = EXTENSIONS.get(sniff_format(data) or "", ".img")
            relative = f"{_folder(breed_name)}/{image_id}{suffix}"
            target = self.library_dir / relative
            _store_file(target, data)
            stored_path = LIBRARY_PREFIX + relative
            photo = _photo(image_id, breed_name, breed_id, stored_path, "", model, result)
            try:
                self.store.upsert([photo.to_row()])
            except ApiError:
                target.unlink(missing_ok=True)  # no file without its row
                raise
            existing.add(image_id)
            results.append({"file": name, "id": image_id, "status": "added", "breed": breed_name})
            log.info("image added", extra={"id": image_id, "breed": breed_name})
        return results

    # ----- delete ----------------------------------------------------------------------------

    def delete(self, ids: list[str]) -> dict[str, Any]:
        """Remove rows, then their files and thumbnails; see the module docstring for order."""
        rows = self.store.get(ids, with_vectors=True, to_write=True)
        missing = sorted(set(ids) - {row["id"] for row in rows})
        if not rows:
            return {"deleted": [], "missing": missing, "files_kept": []}
        originals = [row for row in rows if not row["path"].startswith(LIBRARY_PREFIX)]
        self.deleted.record(originals)  # first: a later ingest must not bring them back
        try:
            self.store.delete([row["id"] for row in rows])
        except ApiError:
            self.deleted.forget([row["id"] for row in originals])
            raise
        kept: list[str] = []
        for row in rows:
            with contextlib.suppress(OSError):
                self.thumbnail_of(row["id"]).unlink(missing_ok=True)
            if not row["path"].startswith(LIBRARY_PREFIX):
                kept.append(row["id"])  # a dataset original: read-only source
                continue
            path = self.file_of(row)
            try:
                if path is not None:
                    path.unlink()
            except OSError as error:
                self.store.upsert([row])  # put the row back: never a row without its file
                raise FileStoreError(
                    f"could not delete the file of {row['id']} ({error}); the image is kept"
                ) from None
        log.info("images deleted", extra={"count": len(rows), "missing": len(missing)})
        return {"deleted": [row["id"] for row in rows], "missing": missing, "files_kept": kept}

    def ids_of_breed(self, breed: str, rows: list[dict[str, Any]]) -> list[str]:
        return [row["id"] for row in rows if row["breed"] == breed]

    # ----- relabel ---------------------------------------------------------------------------

    def relabel(self, image_id: str, breed: str | None) -> dict[str, Any]:
        rows = self.store.get([image_id], with_vectors=True, to_write=True)
        if not rows:
            raise NotFound(f"no image with id {image_id}")
        row = rows[0]
        row["breed"], row["breed_id"] = self.label(breed)
        row["vector"] = [float(x) for x in row["vector"]]
        self.store.upsert([row])
        log.info("image relabelled", extra={"id": image_id, "breed": row["breed"]})
        return {key: value for key, value in row.items() if key != "vector"}

    # ----- restore ---------------------------------------------------------------------------

    def deleted_photos(self) -> list[dict[str, Any]]:
        """The dataset originals the user deleted, newest first, as the API shows them."""
        return [{**row, **image_urls(row["id"])} for row in self.deleted.all()]

    def restore(self, image_id: str) -> dict[str, Any]:
        """Put a deleted dataset original back: encoded again from its file, then searchable."""
        record = self.deleted.get(image_id)
        if record is None:
            if self.store.get([image_id], to_write=True):
                return {"status": "exists", "id": image_id}
            raise NotFound(f"no deleted photo with id {image_id}")
        path = self.files.existing(record["path"])
        if path is None:
            raise ApiError(
                f"the original of {image_id} ({record['path']}) is no longer in the dataset folder",
                code="file_missing",
                status=409,
            )
        data = path.read_bytes()
        if content_id(data) != image_id:
            raise ApiError(
                f"{record['path']} changed since it was deleted; run the ingest to index it anew",
                code="file_changed",
                status=409,
            )
        model, (result,) = self._encode_for_index([(record["path"], data)])
        if not result.ok:
            raise InvalidImage(result.error_message or "invalid image", code=result.error_code)
        photo = _photo(
            image_id,
            record["breed"],
            record["breed_id"],
            record["path"],
            record["split"],
            model,
            result,
        )
        self.store.upsert([photo.to_row()])
        self.deleted.forget([image_id])
        log.info("image restored", extra={"id": image_id, "path": record["path"]})
        return {"status": "restored", **photo.to_json()}


def _photo(
    image_id: str,
    breed: str,
    breed_id: int,
    path: str,
    split: str,
    model: ModelInfo,
    result: EncodedImage,
) -> Photo:
    return Photo(
        id=image_id,
        breed=breed,
        breed_id=breed_id,
        path=path,
        width=result.width,
        height=result.height,
        split=split,
        fingerprint=model.fingerprint,
        vector=result.vector,
    )


def _folder(breed: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", breed).strip("_") or "unknown"


def _store_file(target: Path, data: bytes) -> None:
    try:
        write_atomically(target, data)
    except OSError as error:
        raise FileStoreError(f"could not store the photo ({error})") from None
