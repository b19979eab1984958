"""The one definition of a stored photo: its fields, their types and limits.

The Milvus schema (:mod:`services.vectorstore`), the rows that ingest, the library and a
restore write, and the API's JSON are all made from :data:`FIELDS` and :class:`Photo`, so a
field is added, or a limit changed, in this file alone.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from services.dataset import LIBRARY_PREFIX

if TYPE_CHECKING:
    from services.encoder_wire import EncodedImage, ModelInfo


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Literal["str", "int"]
    max_length: int = 0  # characters, for "str": Milvus VARCHAR needs a limit


ID = FieldSpec("id", "str", 64)  # the content hash (services.dataset.content_id)
FIELDS = (
    FieldSpec("breed", "str", 128),
    FieldSpec("breed_id", "int"),  # index in data/breeds.txt; -1 for unknown or other breeds
    FieldSpec("path", "str", 1024),  # relative to the dataset root, or "@library/..."
    FieldSpec("width", "int"),
    FieldSpec("height", "int"),
    FieldSpec("split", "str", 16),  # "train" | "test" | "" (the official Stanford split)
    FieldSpec("fingerprint", "str", 64),  # the model that made the vector
)
FIELD_NAMES = tuple(field.name for field in FIELDS)
PUBLIC_FIELDS = ("breed", "breed_id", "path", "width", "height", "split")  # in the API's JSON
_stored_fields = operator.itemgetter(*FIELD_NAMES)  # in Photo's order (tests/unit/test_photo.py)


def image_urls(image_id: str) -> dict[str, str]:
    return {"image_url": f"/images/{image_id}", "thumbnail_url": f"/thumbs/{image_id}"}


@dataclass(frozen=True, slots=True)
class Photo:
    """One stored photo, from its Milvus row to the API's JSON: the store returns and takes
    these, the catalogue, the library and the bin pass them on, and the JSON is made by
    :meth:`to_json` alone. Frozen, so a photo read from the catalogue (shared by every request
    of a worker) cannot be changed under another request; a change is a new photo
    (``dataclasses.replace``) written back through the store. Slots: the catalogue holds every
    photo's fields in memory."""

    id: str
    breed: str
    breed_id: int
    path: str
    width: int
    height: int
    split: str = ""
    fingerprint: str = ""
    # unit float32; None when read without vectors. Not compared: two reads of a photo are
    # equal whether or not the vector came along.
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Photo:
        """From a Milvus row or a search hit's entity with every field of :data:`FIELDS`
        (other keys are ignored): the one place a row read from Milvus becomes a photo."""
        vector = row.get("vector")
        vector = None if vector is None else np.asarray(vector, dtype=np.float32)
        # By position (the catalogue makes 20k at a time); test_photo.py checks the order.
        values: Any = (str(row["id"]), *_stored_fields(row), vector)
        return cls(*values)

    @classmethod
    def encoded(
        cls,
        image_id: str,
        breed: str,
        breed_id: int,
        path: str,
        *,
        model: ModelInfo,
        result: EncodedImage,
        split: str = "",
    ) -> Photo:
        """The photo a file becomes once ``model`` encoded it as ``result``: the one place
        ingest, the library's add and a restore build a stored photo from a file."""
        return cls(
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

    @property
    def in_library(self) -> bool:
        """Added through the API (a writable copy), not a read-only dataset original."""
        return self.path.startswith(LIBRARY_PREFIX)

    def labelled(self, breed: str, breed_id: int) -> Photo:
        return replace(self, breed=breed, breed_id=breed_id)

    def without_vector(self) -> Photo:
        return self if self.vector is None else replace(self, vector=None)

    def scalars(self) -> dict[str, Any]:
        """The id and every stored field, without the vector (the relabel answer shows this)."""
        return {"id": self.id, **{name: getattr(self, name) for name in FIELD_NAMES}}

    def to_row(self) -> dict[str, Any]:
        """The Milvus row to upsert: every field and the vector."""
        if self.vector is None:
            raise ValueError(f"photo {self.id} has no vector to store")
        return {**self.scalars(), "vector": np.asarray(self.vector, dtype=np.float32).tolist()}

    def to_json(self) -> dict[str, Any]:
        """What the API shows of a photo."""
        return {
            "id": self.id,
            **{name: getattr(self, name) for name in PUBLIC_FIELDS},
            **image_urls(self.id),
        }
