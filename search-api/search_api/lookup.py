"""Finding one photo by id: its row and its file, for the metadata, file and thumbnail views.

The catalogue answers first; Milvus answers for photos newer than the catalogue. A deleted
photo's file stays reachable (:meth:`PhotoLookup.original`), so the bin can show what a
restore brings back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from search_api.catalog import Catalog
from search_api.search import SearchService
from services.errors import NotFound
from services.files import PhotoFiles
from services.photo import Photo
from services.protocols import DeletedRecords, PhotoStore


@dataclass
class PhotoLookup:
    catalog: Catalog
    search: SearchService
    store: PhotoStore
    files: PhotoFiles
    deleted: DeletedRecords

    def row(self, image_id: str) -> Photo:
        """The stored photo ``image_id`` (without its vector); 404 when nothing has it."""
        photo = self.catalog.snapshot().by_id.get(image_id)
        if photo is None:
            photos = self.store.get([image_id]) if self.search.collection_model() else []
            if not photos:
                raise NotFound(f"no image with id {image_id}")
            photo = photos[0]
        return photo

    def file(self, photo: Photo) -> Path | None:
        """The photo's file (dataset or library), or ``None`` when it is missing or outside."""
        return self.files.existing(photo.path)

    def rows(self, ids: list[str]) -> dict[str, Photo]:
        """The photos of ``ids`` by id, from the catalogue or, for newer photos, Milvus."""
        by_id = self.catalog.snapshot().by_id
        found = {i: by_id[i] for i in ids if i in by_id}
        newer = [i for i in ids if i not in found]
        if newer:
            found.update({photo.id: photo for photo in self.store.get(newer)})
        return found

    def original(self, image_id: str) -> Path:
        """The file of a stored or a deleted photo; 404 when neither has one."""
        try:
            path = self.file(self.row(image_id))
        except NotFound:
            record = self.deleted.get(image_id)
            if record is None:
                raise
            path = self.files.deleted_file(record.path)
        if path is None:
            raise NotFound(f"the file of image {image_id} is missing from the dataset folder")
        return path
