"""Small in-memory stand-ins for the search API's collaborators, for in-process tests.

Each implements the Protocol of :mod:`services.protocols` that the real one does
(``PhotoStore``: ``services.vectorstore.VectorStore``; ``Encoder``:
``services.encoder_client.EncoderClient``; ``DeletedRecords``: ``services.deleted.DeletedPhotos``)
and nothing more: mypy checks it (the block at the end), and so does
``tests/unit/test_protocols.py``. ``down = True`` makes one answer as the real one does when its
server is down.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from services.deleted import DeletedPhoto
from services.encoder_wire import EncodedImage, FoundDog, ModelInfo, Prediction
from services.errors import ApiError, DependencyUnavailable
from services.imaging import decode_image
from services.photo import Photo
from services.vectorstore import Hit, ModelMismatch

DIM = 48  # 4 x 4 RGB
MODEL = ModelInfo("fake", DIM, "f" * 16, "imagenet")


def pixels_vector(data: bytes) -> np.ndarray:
    """A unit vector of an image's 4 x 4 thumbnail: equal images, equal vectors."""
    image = Image.open(io.BytesIO(data)).convert("RGB").resize((4, 4))
    vector = np.asarray(image, dtype=np.float32).reshape(-1) + 1.0
    return vector / np.linalg.norm(vector)


class FakeEncoder:
    """Decodes with the product's safe decoder (so bad uploads fail as they do for real)."""

    def __init__(self, model: ModelInfo = MODEL, predictions: list[Prediction] | None = None):
        self.model = model
        self.predictions = predictions or [
            Prediction("golden retriever", 56, 0.9),
            Prediction("Labrador retriever", 57, 0.05),
        ]
        self.dog_score = 0.93  # what every photo scores: set it to see "not a dog"
        # Set (with a model whose ``appearance_dims`` is 48) to add a breed part to every vector,
        # as the real recipe does: ``l2n(concat(pixels, breed_part))``.
        self.breed_part: np.ndarray | None = None
        self.down = False
        self.calls = 0
        self.dogs: list[FoundDog] | None = None  # what every photo's localisation finds
        # Breed guesses by file name where one photo must differ (a dog's crop: "dog-0.png")
        self.predictions_by_name: dict[str, list[Prediction]] = {}
        self.asked_dogs: list[bool] = []  # per encode call: whether it asked for the dogs
        self.explained: list[tuple[str, str]] = []  # the file names /explain was asked about

    def _check(self) -> None:
        if self.down:
            raise DependencyUnavailable("encoder", "cannot connect to the fake encoder")

    def info(self) -> ModelInfo:
        self._check()
        return self.model

    def ready(self) -> str | None:
        return "encoder is unavailable: down" if self.down else None

    def encode(
        self,
        images: Sequence[tuple[str, bytes]],
        *,
        timeout: float | None = None,
        dogs: bool = False,
    ) -> tuple[ModelInfo, list[EncodedImage]]:
        self._check()
        self.calls += 1
        self.asked_dogs.append(dogs)
        results: list[EncodedImage] = []
        for name, data in images:
            try:
                decoded = decode_image(data)
            except ApiError as error:
                results.append(EncodedImage(error_code=error.code, error_message=error.message))
                continue
            out = io.BytesIO()
            decoded.image.save(out, "PNG")
            vector = pixels_vector(out.getvalue())
            if self.breed_part is not None:
                vector = np.concatenate([vector, np.asarray(self.breed_part, np.float32)])
                vector /= np.linalg.norm(vector)
            results.append(
                EncodedImage(
                    vector=vector,
                    width=decoded.width,
                    height=decoded.height,
                    predictions=list(self.predictions_by_name.get(name, self.predictions)),
                    dog_score=self.dog_score,
                    dogs=None if self.dogs is None or not dogs else list(self.dogs),
                )
            )
        return self.model, results

    def explain(self, first: tuple[str, bytes], second: tuple[str, bytes]) -> dict[str, Any]:
        """A 2x2 map per photo, hottest where the photo is brightest (enough to see the
        maps travel); the similarity of the pixel vectors."""
        self._check()
        heat = []
        for _, data in (first, second):
            image = decode_image(data).image.convert("L").resize((2, 2))
            grid = np.asarray(image, dtype=np.float32)
            grid = grid / max(float(grid.max()), 1e-6)
            row, col = np.unravel_index(int(grid.argmax()), grid.shape)
            heat.append(
                {
                    "rows": 2,
                    "cols": 2,
                    "grid": grid.round(3).tolist(),
                    "peak": [(col + 0.5) / 2, (row + 0.5) / 2],
                }
            )
        self.explained.append((first[0], second[0]))
        similarity = float(pixels_vector(first[1]) @ pixels_vector(second[1]))
        return {"similarity": round(similarity, 4), "heat": heat}


class FakeVectorStore:
    """A photo collection in a dict: exact cosine search, the real store's error for down.
    ``photos`` holds each photo with its vector; a test changes one with ``dataclasses.replace``."""

    def __init__(self, collection: str = "dogs"):
        self.collection = collection
        self.stored_model: ModelInfo | None = None
        self.photos: dict[str, Photo] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise DependencyUnavailable("milvus", "the fake Milvus is down")

    def ready(self) -> str | None:
        return "milvus is unavailable: down" if self.down else None

    def exists(self) -> bool:
        self._check()
        return self.stored_model is not None

    def model(self) -> ModelInfo | None:
        self._check()
        return self.stored_model

    def ensure_collection(self, model: ModelInfo) -> None:
        self._check()
        if self.stored_model is None:
            self.stored_model = model
        elif not self.stored_model.same_model(model):
            raise ModelMismatch("the fake collection holds another model; --reindex")

    def warm(self) -> None:
        self._check()

    def flush(self) -> None:
        self._check()

    def wait_for_index(self, timeout_s: float = 0) -> None:
        self._check()

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        self._check()
        return {i for i in ids if i in self.photos}

    def upsert(self, photos: Sequence[Photo]) -> None:
        self._check()
        for photo in photos:
            if photo.vector is None:
                raise ValueError(f"photo {photo.id} has no vector to store")  # as the real one
            vector = np.asarray(photo.vector, np.float32)
            self.photos[photo.id] = dataclasses.replace(photo, vector=vector)

    def delete(self, ids: Sequence[str]) -> None:
        self._check()
        for i in ids:
            self.photos.pop(i, None)

    def get(
        self, ids: Sequence[str], *, with_vectors: bool = False, to_write: bool = False
    ) -> list[Photo]:
        self._check()
        return [self._out(self.photos[i], with_vectors) for i in ids if i in self.photos]

    def count(self) -> int:
        self._check()
        return len(self.photos)

    def all_rows(self, *, strong: bool = True) -> list[Photo]:
        self._check()
        return [self._out(photo, False) for photo in self.photos.values()]

    def all_vectors(self) -> tuple[list[str], np.ndarray]:
        self._check()
        ids = list(self.photos)
        vectors = [self._vector(self.photos[i]) for i in ids]
        return ids, np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)

    def search(
        self,
        vector: np.ndarray,
        k: int,
        *,
        breed: str | None = None,
        exclude_id: str | None = None,
        with_vectors: bool = False,
    ) -> list[Hit]:
        self._check()
        photos = [
            photo
            for photo in self.photos.values()
            if (breed is None or photo.breed == breed) and photo.id != exclude_id
        ]
        scores = {photo.id: float(np.dot(self._vector(photo), vector)) for photo in photos}
        ranked = sorted(photos, key=lambda photo: -scores[photo.id])[:k]
        return [Hit(self._out(photo, with_vectors), scores[photo.id]) for photo in ranked]

    def search_many(
        self,
        vectors: Sequence[np.ndarray],
        k: int,
        *,
        breed: str | None = None,
        exclude_id: str | None = None,
        with_vectors: bool = False,
    ) -> list[list[Hit]]:
        options: dict[str, Any] = {
            "breed": breed,
            "exclude_id": exclude_id,
            "with_vectors": with_vectors,
        }
        return [self.search(vector, k, **options) for vector in vectors]

    @staticmethod
    def _vector(photo: Photo) -> np.ndarray:
        assert photo.vector is not None  # every stored photo has one (upsert checks)
        return photo.vector

    @staticmethod
    def _out(photo: Photo, with_vectors: bool) -> Photo:
        """What a read returns: a copy (as Milvus would), with its vector only when asked."""
        vector = photo.vector.copy() if with_vectors and photo.vector is not None else None
        return dataclasses.replace(photo, vector=vector)


class FakeDeleted:
    def __init__(self) -> None:
        self.records: dict[str, DeletedPhoto] = {}

    def record(self, photos: Sequence[Photo]) -> None:
        for photo in photos:
            self.records[photo.id] = DeletedPhoto.of(photo, deleted_at=1_800_000_000)

    def forget(self, ids: Sequence[str]) -> None:
        for i in ids:
            self.records.pop(i, None)

    def among(self, ids: Sequence[str]) -> set[str]:
        return {i for i in ids if i in self.records}

    def get(self, image_id: str) -> DeletedPhoto | None:
        return self.records.get(image_id)

    def all(self) -> list[DeletedPhoto]:
        return list(self.records.values())


class FakeFetcher:
    """Search by URL without a network: ``pages`` maps URLs to their bytes."""

    def __init__(self, pages: dict[str, bytes] | None = None):
        self.pages = pages or {}

    def fetch(self, url: str) -> bytes:
        from search_api.remote import UrlFetchFailed

        if url not in self.pages:
            raise UrlFetchFailed(f"could not fetch {url}")
        return self.pages[url]


if TYPE_CHECKING:  # mypy (pyproject's files include this module): each fake satisfies its protocol
    from services.protocols import DeletedRecords, Encoder, PhotoStore

    def _fake_store(store: FakeVectorStore) -> PhotoStore:
        return store

    def _fake_encoder(encoder: FakeEncoder) -> Encoder:
        return encoder

    def _fake_deleted(deleted: FakeDeleted) -> DeletedRecords:
        return deleted
