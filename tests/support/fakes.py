"""Small in-memory stand-ins for the search API's collaborators, for in-process tests.

Each has the interface the API uses of the real one (``services.vectorstore.VectorStore``,
``services.encoder_client.EncoderClient``, ``services.deleted.DeletedPhotos``) and nothing
more. ``down = True`` makes one answer as the real one does when its server is down.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from services.encoder_wire import EncodedImage, FoundDog, ModelInfo, Prediction
from services.errors import ApiError, DependencyUnavailable
from services.imaging import decode_image
from services.photo import FIELD_NAMES
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
        self, images, *, timeout=None, dogs: bool = False
    ) -> tuple[ModelInfo, list[EncodedImage]]:
        self._check()
        self.calls += 1
        self.asked_dogs.append(dogs)
        results = []
        for _, data in images:
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
                    predictions=list(self.predictions),
                    dog_score=self.dog_score,
                    dogs=None if self.dogs is None or not dogs else list(self.dogs),
                )
            )
        return self.model, results

    def explain(self, first: tuple[str, bytes], second: tuple[str, bytes]) -> dict:
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
    """A photo collection in a dict: exact cosine search, the real store's error for down."""

    def __init__(self, collection: str = "dogs"):
        self.collection = collection
        self.stored_model: ModelInfo | None = None
        self.rows: dict[str, dict[str, Any]] = {}
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

    def existing_ids(self, ids) -> set[str]:
        self._check()
        return {i for i in ids if i in self.rows}

    def upsert(self, rows) -> None:
        self._check()
        for row in rows:
            self.rows[row["id"]] = {**row, "vector": np.asarray(row["vector"], np.float32)}

    def delete(self, ids) -> None:
        self._check()
        for i in ids:
            self.rows.pop(i, None)

    def get(self, ids, *, with_vectors: bool = False, to_write: bool = False) -> list[dict]:
        self._check()
        return [self._out(self.rows[i], with_vectors) for i in ids if i in self.rows]

    def count(self) -> int:
        self._check()
        return len(self.rows)

    def all_rows(self, *, strong: bool = True) -> list[dict[str, Any]]:
        self._check()
        return [self._out(row, False) for row in self.rows.values()]

    def all_vectors(self) -> tuple[list[str], np.ndarray]:
        self._check()
        ids = list(self.rows)
        vectors = [self.rows[i]["vector"] for i in ids]
        return ids, np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)

    def search(self, vector, k, *, breed=None, exclude_id=None, with_vectors=False) -> list[Hit]:
        self._check()
        rows = [
            row
            for row in self.rows.values()
            if (breed is None or row["breed"] == breed) and row["id"] != exclude_id
        ]
        scored = sorted(rows, key=lambda row: -float(np.dot(row["vector"], vector)))[:k]
        return [
            Hit(row["id"], float(np.dot(row["vector"], vector)), self._fields(row, with_vectors))
            for row in scored
        ]

    def search_many(self, vectors, k, **options) -> list[list[Hit]]:
        return [self.search(vector, k, **options) for vector in vectors]

    @staticmethod
    def _fields(row: dict[str, Any], with_vectors: bool) -> dict[str, Any]:
        fields = {name: row[name] for name in FIELD_NAMES}
        if with_vectors:
            fields["vector"] = row["vector"].tolist()
        return fields

    def _out(self, row: dict[str, Any], with_vectors: bool) -> dict[str, Any]:
        return {"id": row["id"], **self._fields(row, with_vectors)}


class FakeDeleted:
    def __init__(self):
        self.records: dict[str, dict[str, Any]] = {}

    def record(self, rows) -> None:
        for row in rows:
            fields = {k: row[k] for k in ("id", "breed", "breed_id", "path", "split")}
            self.records[row["id"]] = {**fields, "deleted_at": 1_800_000_000}

    def forget(self, ids) -> None:
        for i in ids:
            self.records.pop(i, None)

    def among(self, ids) -> set[str]:
        return {i for i in ids if i in self.records}

    def get(self, image_id: str) -> dict[str, Any] | None:
        return self.records.get(image_id)

    def all(self) -> list[dict[str, Any]]:
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
