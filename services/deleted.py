"""What the user deleted from the dataset, kept so that no later ingest brings it back.

A dataset original is read-only: deleting it removes its row from the photo collection, but
the file stays in the dataset folder, where the next ``make up`` or ``ingest`` would find it
and index it again. So the deletion is recorded here, in a collection of its own named after
the photo collection (``dogs_deleted``: it survives a re-index, which swaps the collection
behind the ``dogs`` alias), until the user restores the photo.

Photos added through the API are not recorded: their file is deleted with them, so nothing
can bring them back.

Milvus needs a vector field in every collection; this one has a constant 2-d marker, never
searched. Reads are strongly consistent: they are few and small, and ingest must never miss a
deletion that was just made.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymilvus import DataType

from services.consistency import STRONG
from services.dataset import LIBRARY_PREFIX
from services.milvus import MilvusConnection, milvus_call
from services.photo import FIELDS as PHOTO_FIELDS
from services.photo import ID, FieldSpec, Photo, image_urls
from services.settings import MilvusSettings

if TYPE_CHECKING:
    from services.encoder_wire import EncodedImage, ModelInfo

SUFFIX = "_deleted"
RECORDED = ("breed", "breed_id", "path", "split")  # what a restore needs besides the file
# The photo's own specs (services.photo), so a limit changed there changes here too.
FIELDS = (
    *(field for field in PHOTO_FIELDS if field.name in RECORDED),
    FieldSpec("deleted_at", "int"),  # Unix seconds
)
FIELD_NAMES = tuple(field.name for field in FIELDS)
MARKER = [1.0, 0.0]


@dataclass(frozen=True, slots=True)
class DeletedPhoto:
    """The record of a deleted photo: what a restore needs besides the file (:data:`RECORDED`,
    typed as :class:`services.photo.Photo` types them) and when it was deleted."""

    id: str
    breed: str
    breed_id: int
    path: str
    split: str
    deleted_at: int  # Unix seconds

    @classmethod
    def of(cls, photo: Photo, deleted_at: int) -> DeletedPhoto:
        return cls(photo.id, photo.breed, photo.breed_id, photo.path, photo.split, deleted_at)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DeletedPhoto:
        return cls(id=str(row["id"]), **{name: row[name] for name in FIELD_NAMES})

    @property
    def in_library(self) -> bool:
        return self.path.startswith(LIBRARY_PREFIX)

    def restored(self, model: ModelInfo, result: EncodedImage) -> Photo:
        """The photo again, once its file was encoded by ``model`` as ``result``."""
        return Photo.encoded(
            self.id,
            self.breed,
            self.breed_id,
            self.path,
            model=model,
            result=result,
            split=self.split,
        )

    def to_row(self) -> dict[str, Any]:
        return {"id": self.id, "marker": MARKER, **{n: getattr(self, n) for n in FIELD_NAMES}}

    def to_json(self) -> dict[str, Any]:
        """What the API shows of a deleted photo (the bin)."""
        return {
            "id": self.id,
            **{name: getattr(self, name) for name in FIELD_NAMES},
            "in_library": self.in_library,
            **image_urls(self.id),
        }


class DeletedPhotos(MilvusConnection):
    def __init__(self, settings: MilvusSettings, photo_collection: str | None = None):
        super().__init__(settings, (photo_collection or settings.collection) + SUFFIX)

    def _ensure(self) -> None:
        if self.client.has_collection(self.collection):
            return
        from services.vectorstore import add_fields  # the photo schema's field builder

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID.name, DataType.VARCHAR, max_length=ID.max_length, is_primary=True)
        schema.add_field("marker", DataType.FLOAT_VECTOR, dim=len(MARKER))
        add_fields(schema, FIELDS)
        index = self.client.prepare_index_params()
        index.add_index("marker", index_type="FLAT", metric_type="L2")
        self.client.create_collection(self.collection, schema=schema)
        self.client.create_index(self.collection, index)
        self.client.load_collection(self.collection)

    @milvus_call
    def record(self, photos: Sequence[Photo]) -> None:
        """Remember these photos as deleted now."""
        if not photos:
            return
        self._ensure()
        now = int(time.time())
        records = [DeletedPhoto.of(photo, now).to_row() for photo in photos]
        self.client.upsert(self.collection, records)

    @milvus_call
    def forget(self, ids: Sequence[str]) -> None:
        """The photos are restored: no longer deleted."""
        if ids and self.client.has_collection(self.collection):
            self.client.delete(self.collection, ids=list(ids))

    @milvus_call
    def among(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` the user deleted."""
        if not ids or not self.client.has_collection(self.collection):
            return set()
        rows = self.client.get(
            self.collection, ids=list(ids), output_fields=["id"], consistency_level=STRONG
        )
        return {row["id"] for row in rows}

    @milvus_call
    def get(self, image_id: str) -> DeletedPhoto | None:
        if not self.client.has_collection(self.collection):
            return None
        rows = self.client.get(
            self.collection,
            ids=[image_id],
            output_fields=["id", *FIELD_NAMES],
            consistency_level=STRONG,
        )
        return DeletedPhoto.from_row(rows[0]) if rows else None

    @milvus_call
    def all(self) -> list[DeletedPhoto]:
        """Every record, newest first."""
        if not self.client.has_collection(self.collection):
            return []
        records = [DeletedPhoto.from_row(row) for row in self.scan(["id", *FIELD_NAMES], STRONG)]
        return sorted(records, key=lambda record: (-record.deleted_at, record.path))
