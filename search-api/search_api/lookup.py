"""Finding one photo by id: its row and its file, for the metadata, file and thumbnail views.

The catalogue answers first; Milvus answers for photos newer than the catalogue. A deleted
photo's file stays reachable (:meth:`PhotoLookup.original`), so the bin can show what a
restore brings back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_api.catalog import Catalog
from search_api.search import SearchService
from services.deleted import DeletedPhotos
from services.errors import NotFound
from services.files import PhotoFiles
from services.vectorstore import VectorStore


@dataclass
class PhotoLookup:
    catalog: Catalog
    search: SearchService
    store: VectorStore
    files: PhotoFiles
    deleted: DeletedPhotos

    def row(self, image_id: str) -> dict[str, Any]:
        """The stored row of ``image_id``; 404 when nothing has it."""
        row = self.catalog.snapshot().by_id.get(image_id)
        if row is None:
            rows = self.store.get([image_id]) if self.search.collection_model() else []
            if not rows:
                raise NotFound(f"no image with id {image_id}")
            row = rows[0]
        return row

    def file(self, row: dict[str, Any]) -> Path | None:
        """The row's file (dataset or library), or ``None`` when it is missing or outside."""
        return self.files.existing(row["path"])

    def rows(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The rows of ``ids`` by id, from the catalogue or, for newer photos, Milvus."""
        by_id = self.catalog.snapshot().by_id
        found = {i: by_id[i] for i in ids if i in by_id}
        newer = [i for i in ids if i not in found]
        if newer:
            found.update({row["id"]: row for row in self.store.get(newer)})
        return found

    def original(self, image_id: str) -> Path:
        """The file of a stored or a deleted photo; 404 when neither has one."""
        try:
            path = self.file(self.row(image_id))
        except NotFound:
            record = self.deleted.get(image_id)
            if record is None:
                raise
            path = self.files.deleted_file(record["path"])
        if path is None:
            raise NotFound(f"the file of image {image_id} is missing from the dataset folder")
        return path
