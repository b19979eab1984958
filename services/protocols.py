"""What the search API and ingest need of their three outer collaborators, as Protocols.

The real classes (:class:`services.vectorstore.VectorStore`,
:class:`services.encoder_client.EncoderClient`, :class:`services.deleted.DeletedPhotos`) and the
in-memory fakes the unit tests give the app factory (``tests/support/fakes.py``) both satisfy
them, and mypy checks both (the block at the end of this module, and the one at the end of the
fakes): a fake cannot drift from the real class without the type check failing, so the unit
tests keep testing the product's contract. ``tests/unit/test_protocols.py`` checks the same at
run time, on parameter names and kinds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from services.deleted import DeletedPhoto
from services.encoder_wire import EncodedImage, ModelInfo
from services.photo import Photo
from services.vectorstore import Hit


class PhotoStore(Protocol):
    """The photo collection in Milvus: one :class:`Photo` per id, searched by cosine."""

    collection: str  # the name (usually an alias) the errors and logs give

    def ready(self) -> str | None: ...

    def exists(self) -> bool: ...

    def model(self) -> ModelInfo | None: ...

    def ensure_collection(self, model: ModelInfo) -> None: ...

    def warm(self) -> None: ...

    def flush(self) -> None: ...

    def wait_for_index(self, timeout_s: float = ...) -> None: ...

    def existing_ids(self, ids: Sequence[str]) -> set[str]: ...

    def upsert(self, photos: Sequence[Photo]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def get(
        self, ids: Sequence[str], *, with_vectors: bool = ..., to_write: bool = ...
    ) -> list[Photo]: ...

    def count(self) -> int: ...

    def all_rows(self, *, strong: bool = ...) -> list[Photo]: ...

    def all_vectors(self) -> tuple[list[str], np.ndarray]: ...

    def search(
        self,
        vector: np.ndarray,
        k: int,
        *,
        breed: str | None = ...,
        exclude_id: str | None = ...,
        with_vectors: bool = ...,
    ) -> list[Hit]: ...

    def search_many(
        self,
        vectors: Sequence[np.ndarray],
        k: int,
        *,
        breed: str | None = ...,
        exclude_id: str | None = ...,
        with_vectors: bool = ...,
    ) -> list[list[Hit]]: ...


class Encoder(Protocol):
    """The encoder service: vectors (and, when asked, the dogs) of images, and heat maps."""

    def info(self) -> ModelInfo: ...

    def ready(self) -> str | None: ...

    def encode(
        self,
        images: Sequence[tuple[str, bytes]],
        *,
        timeout: float | None = ...,
        dogs: bool = ...,
    ) -> tuple[ModelInfo, list[EncodedImage]]: ...

    def explain(self, first: tuple[str, bytes], second: tuple[str, bytes]) -> dict[str, Any]: ...


class DeletedRecords(Protocol):
    """The dataset photos the user deleted, kept out of every ingest until restored."""

    def record(self, photos: Sequence[Photo]) -> None: ...

    def forget(self, ids: Sequence[str]) -> None: ...

    def among(self, ids: Sequence[str]) -> set[str]: ...

    def get(self, image_id: str) -> DeletedPhoto | None: ...

    def all(self) -> list[DeletedPhoto]: ...


if TYPE_CHECKING:  # mypy: the real classes satisfy their protocols
    from services.deleted import DeletedPhotos
    from services.encoder_client import EncoderClient
    from services.vectorstore import VectorStore

    def _real_store(store: VectorStore) -> PhotoStore:
        return store

    def _real_encoder(encoder: EncoderClient) -> Encoder:
        return encoder

    def _real_deleted(deleted: DeletedPhotos) -> DeletedRecords:
        return deleted
