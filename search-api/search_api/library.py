"""Library management: add photos, delete them, change their breed label, consistently.

Two places hold an image: its file and its Milvus row (plus a cached thumbnail, which can
always be rebuilt). Every change keeps them in step, whatever fails:

- add: write the file (atomically), then upsert the row; a failed upsert removes the file.
- delete: remove the row first (a failure changes nothing), then the files; a file that
  cannot be removed puts the row back, so no row ever points at a missing file.

Uploaded files live under the library folder (writable); rows name them ``@library/...``.
Dataset originals are a read-only source: deleting one of those removes it from the index
and its thumbnail, and leaves the original where it is (``scripts/ingest.py`` would add it
again).
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.dataset import LIBRARY_PREFIX, UNKNOWN_BREED, BreedList, content_id, safe_join
from services.encoder_client import EncoderClient
from services.errors import ApiError, NotFound
from services.files import write_atomically
from services.imaging import sniff_format
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
    dataset_root: Path
    library_dir: Path
    thumb_cache_dir: Path
    breeds: BreedList = field(default_factory=BreedList.load)

    # ----- where files are -------------------------------------------------------------------

    def file_of(self, row: dict[str, Any]) -> Path | None:
        """The row's file (library or dataset), or ``None`` when missing or outside its root."""
        path = row["path"]
        if path.startswith(LIBRARY_PREFIX):
            candidate = safe_join(self.library_dir, path[len(LIBRARY_PREFIX) :])
        else:
            candidate = safe_join(self.dataset_root, path)
        return candidate if candidate is not None and candidate.is_file() else None

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

    def add(self, uploads: list[tuple[str, bytes]], breed: str | None) -> list[dict[str, Any]]:
        """Encode, store and index each upload; one result per upload, in order."""
        breed_name, breed_id = self.label(breed)
        model, encoded = self.encoder.encode(uploads)
        self.store.ensure_collection(model)  # creates it for the first photo of a new library
        stored = self.store.model()
        if stored is not None:
            check_same_model(stored, model, self.store.collection)
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
            row = {
                "id": image_id,
                "vector": result.vector.tolist(),
                "breed": breed_name,
                "breed_id": breed_id,
                "path": LIBRARY_PREFIX + relative,
                "width": result.width,
                "height": result.height,
                "split": "",
                "fingerprint": model.fingerprint,
            }
            try:
                self.store.upsert([row])
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
        rows = self.store.get(ids, with_vectors=True)
        missing = sorted(set(ids) - {row["id"] for row in rows})
        if not rows:
            return {"deleted": [], "missing": missing, "files_kept": []}
        self.store.delete([row["id"] for row in rows])
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
        rows = self.store.get([image_id], with_vectors=True)
        if not rows:
            raise NotFound(f"no image with id {image_id}")
        row = rows[0]
        row["breed"], row["breed_id"] = self.label(breed)
        row["vector"] = [float(x) for x in row["vector"]]
        self.store.upsert([row])
        log.info("image relabelled", extra={"id": image_id, "breed": row["breed"]})
        return {key: value for key, value in row.items() if key != "vector"}


def _folder(breed: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", breed).strip("_") or "unknown"


def _store_file(target: Path, data: bytes) -> None:
    try:
        write_atomically(target, data)
    except OSError as error:
        raise FileStoreError(f"could not store the photo ({error})") from None
