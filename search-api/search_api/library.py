"""Library management: add photos and change their breed label, consistently. Deleting and
restoring them is :mod:`search_api.recycle`.

Two places hold an image: its file and its Milvus row (plus a cached thumbnail, which can
always be rebuilt). Adding keeps them in step whatever fails: the file is written
(atomically), then the row upserted; a failed upsert removes the file. Uploaded files live
under the library folder (writable), and rows name them ``@library/...``; dataset originals
are a read-only source.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.dataset import LIBRARY_PREFIX, UNKNOWN_BREED, BreedList, content_id
from services.encoder_wire import EncodedImage, ModelInfo
from services.errors import ApiError, NotFound
from services.files import PhotoFiles, write_atomically
from services.imaging import sniff_format
from services.photo import Photo
from services.protocols import DeletedRecords, Encoder, PhotoStore
from services.vectorstore import check_same_model

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
    store: PhotoStore
    encoder: Encoder
    files: PhotoFiles
    thumb_cache_dir: Path
    deleted: DeletedRecords
    breeds: BreedList = field(default_factory=BreedList.load)

    def file_of(self, photo: Photo) -> Path | None:
        """The photo's file (library or dataset), or ``None`` when missing or outside its root."""
        return self.files.existing(photo.path)

    def known_breeds(self) -> list[str]:
        """The labels a photo can be given, besides ``unknown``."""
        return list(self.breeds.names)

    def thumbnail_of(self, image_id: str) -> Path:
        return self.thumb_cache_dir / image_id[:2] / f"{image_id}.jpg"

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

    def encode_for_index(
        self, uploads: list[tuple[str, bytes]]
    ) -> tuple[ModelInfo, list[EncodedImage]]:
        """Encode, and refuse (409) vectors of another model than the index's."""
        model, encoded = self.encoder.encode(uploads)
        self.store.ensure_collection(model)  # creates it for the first photo of a new library
        stored = self.store.model()
        if stored is not None:
            check_same_model(stored, model, self.store.collection)
        return model, encoded

    def add(self, uploads: list[tuple[str, bytes]], breed: str | None) -> list[dict[str, Any]]:
        """Encode, store and index each upload; one result per upload, in order. A photo
        already stored keeps its label; its result says which (``breed``)."""
        breed_name, breed_id = self.label(breed)
        model, encoded = self.encode_for_index(uploads)
        ids = [content_id(data) for _, data in uploads]
        known = [i for i, e in zip(ids, encoded, strict=True) if e.ok]
        stored = {photo.id: photo.breed for photo in self.store.get(known, to_write=True)}
        was_deleted = self.deleted.among([i for i in known if i not in stored])
        results: list[dict[str, Any]] = []
        for (name, data), image_id, result in zip(uploads, ids, encoded, strict=True):
            if not result.ok:
                error = {"code": result.error_code, "message": result.error_message}
                results.append({"file": name, "status": "failed", "error": error})
            elif image_id in stored:
                outcome = {"file": name, "id": image_id, "status": "exists"}
                results.append({**outcome, "breed": stored[image_id]})
            else:
                path = f"{LIBRARY_PREFIX}{_folder(breed_name)}/{image_id}{_suffix(data)}"
                photo = Photo.encoded(
                    image_id, breed_name, breed_id, path, model=model, result=result
                )
                self._store(data, photo)
                if image_id in was_deleted:
                    self.resolve_deleted(image_id)
                stored[image_id] = breed_name
                results.append(
                    {"file": name, "id": image_id, "status": "added", "breed": breed_name}
                )
        return results

    def _store(self, data: bytes, photo: Photo) -> None:
        target = self.files.path_of(photo.path)
        if target is None:
            raise FileStoreError(f"no place for {photo.path} in the library folder")
        try:
            write_atomically(target, data)
        except OSError as error:
            raise FileStoreError(f"could not store the photo ({error})") from None
        try:
            self.store.upsert([photo])
        except ApiError:
            target.unlink(missing_ok=True)  # no file without its row
            raise
        log.info("image added", extra={"id": photo.id, "breed": photo.breed})

    def resolve_deleted(self, image_id: str) -> None:
        """A photo is live again under a new row: its deletion record no longer tells the
        truth, so it is forgotten, and a deleted library copy's file leaves the trash (the
        live photo holds the same bytes: the id is their hash). One stored truth per id."""
        record = self.deleted.get(image_id)
        if record is None:
            return
        self.deleted.forget([image_id])
        trash = self.files.trash_of(record.path)
        if trash is not None:
            trash.unlink(missing_ok=True)
        log.info(
            "deletion record resolved by a live photo",
            extra={"id": image_id, "deleted_path": record.path},
        )

    def relabel(self, image_id: str, breed: str | None) -> dict[str, Any]:
        """The photo's stored fields with its new label (the vector is kept as it was)."""
        photos = self.store.get([image_id], with_vectors=True, to_write=True)
        if not photos:
            raise NotFound(f"no image with id {image_id}")
        photo = photos[0].labelled(*self.label(breed))
        self.store.upsert([photo])
        log.info("image relabelled", extra={"id": image_id, "breed": photo.breed})
        return photo.scalars()


def _suffix(data: bytes) -> str:
    return EXTENSIONS.get(sniff_format(data) or "", ".img")


def _folder(breed: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", breed).strip("_") or "unknown"
