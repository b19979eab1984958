"""Search logic, independent of HTTP: upload -> encoder -> Milvus, and "more like this"."""

from __future__ import annotations

import time
from typing import Any

from search_api.catalog import Catalog
from services.encoder_client import EncoderClient
from services.errors import ApiError, InvalidImage, NotFound
from services.schema import EncodedImage, ModelInfo
from services.vectorstore import Hit, VectorStore, check_same_model

MODEL_CACHE_S = 5.0


class SearchService:
    def __init__(self, store: VectorStore, encoder: EncoderClient, catalog: Catalog):
        self.store = store
        self.encoder = encoder
        self.catalog = catalog
        self._collection_model: tuple[float, ModelInfo | None] = (0.0, None)

    def collection_model(self) -> ModelInfo | None:
        """The model recorded on the collection (cached briefly: it changes only on re-index)."""
        taken_at, model = self._collection_model
        if time.monotonic() - taken_at > MODEL_CACHE_S:
            model = self.store.model()
            self._collection_model = (time.monotonic(), model)
        return model

    def search_upload(
        self, data: bytes, filename: str, k: int, breed: str | None
    ) -> dict[str, Any]:
        started = time.perf_counter()
        model, (encoded,) = self.encoder.encode([(filename, data)])
        encoded_at = time.perf_counter()
        if not encoded.ok:
            status = 413 if encoded.error_code == "image_too_large" else 400
            raise InvalidImage(
                encoded.error_message or "invalid image", code=encoded.error_code, status=status
            )
        stored = self.collection_model()
        if stored is None:
            hits: list[Hit] = []
        else:
            check_same_model(stored, model, self.store.collection)
            hits = self.store.search(encoded.vector, k, breed=breed)
        finished = time.perf_counter()
        return {
            "query": _query_summary(encoded),
            "results": [serialise_hit(hit) for hit in hits],
            "index_empty": stored is None,
            "timings": _timings(started, encoded_at, finished),
        }

    def similar(self, image_id: str, k: int, breed: str | None) -> dict[str, Any]:
        started = time.perf_counter()
        rows = self.store.get([image_id], with_vectors=True)
        if not rows:
            raise NotFound(f"no image with id {image_id}")
        fetched = time.perf_counter()
        hits = self.store.search(rows[0]["vector"], k, breed=breed)
        finished = time.perf_counter()
        return {
            "query": {"id": image_id, **image_urls(image_id)},
            "results": [serialise_hit(hit) for hit in hits],
            "timings": {
                "fetch_ms": round((fetched - started) * 1000, 2),
                "search_ms": round((finished - fetched) * 1000, 2),
                "total_ms": round((finished - started) * 1000, 2),
            },
        }

    def check_breed(self, breed: str | None) -> str | None:
        if breed is not None and not self.catalog.snapshot().has_breed(breed):
            raise ApiError(f"unknown breed {breed!r}; see /api/breeds", code="unknown_breed")
        return breed


def image_urls(image_id: str) -> dict[str, str]:
    return {"image_url": f"/images/{image_id}", "thumbnail_url": f"/thumbs/{image_id}"}


def serialise_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "breed": row["breed"],
        "breed_id": row["breed_id"],
        "path": row["path"],
        "width": row["width"],
        "height": row["height"],
        "split": row["split"],
        **image_urls(row["id"]),
    }


def serialise_hit(hit: Hit) -> dict[str, Any]:
    # Pooled post-ReLU features are non-negative, so cosine lies in [0, 1]; clamp for rounding.
    similarity = min(1.0, max(0.0, hit.similarity))
    return {**serialise_row({"id": hit.id, **hit.fields}), "similarity": round(similarity, 5)}


def _query_summary(encoded: EncodedImage) -> dict[str, Any]:
    summary: dict[str, Any] = {"width": encoded.width, "height": encoded.height}
    if encoded.predictions:
        summary["predictions"] = [
            {"breed": p.breed, "breed_id": p.breed_id, "probability": p.probability}
            for p in encoded.predictions
        ]
    return summary


def _timings(started: float, encoded: float, finished: float) -> dict[str, float]:
    return {
        "encode_ms": round((encoded - started) * 1000, 2),
        "search_ms": round((finished - encoded) * 1000, 2),
        "total_ms": round((finished - started) * 1000, 2),
    }
