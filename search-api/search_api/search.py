"""Search logic, independent of HTTP: upload -> encoder -> Milvus, and "more like this"."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from search_api.answers import Hit as HitAnswer
from search_api.answers import Match, Query, SearchResult, SearchTimings, SimilarResult
from search_api.answers import Photo as PhotoAnswer
from search_api.catalog import Catalog, age_s
from search_api.dogs import describe_dogs, dog_to_search
from services.dataset import UNKNOWN_BREED, breed_key
from services.encoder_wire import EncodedImage, ModelInfo, Prediction
from services.errors import ApiError, InvalidImage, NotFound
from services.imaging import DEFAULT_MAX_PIXELS
from services.photo import Photo, image_urls
from services.protocols import Encoder, PhotoStore
from services.vectorstore import Hit, check_same_model

MODEL_CACHE_S = 5.0
OVERFETCH = 3  # hiding near-duplicates asks Milvus for this many times k, then keeps k
NEAR_COPY_CANDIDATES = 4  # the closest photos by look that may be near-copies of the query


@dataclass(frozen=True)
class ResultFilter:
    """What the user asked to leave out of the ranked list."""

    min_similarity: float | None = None  # hide matches weaker than this
    duplicate_threshold: float | None = None  # hide near-copies of a higher-ranked result

    def fetch_k(self, k: int) -> int:
        return k * OVERFETCH if self.duplicate_threshold is not None else k

    def apply(
        self,
        hits: list[Hit],
        k: int,
        query: np.ndarray | None = None,
        model: ModelInfo | None = None,
    ) -> tuple[list[Hit], int]:
        """The hits to show (at most ``k``) and how many were hidden as near-duplicates: of a
        higher-ranked hit, or of ``query`` (a stored photo the user already has). Copies are
        judged on the look alone (``model.appearance``); with ``duplicate_threshold`` set,
        every hit must carry its ``vector``."""
        if self.min_similarity is not None:
            hits = [hit for hit in hits if hit.similarity >= self.min_similarity]
        if self.duplicate_threshold is None:
            return hits[:k], 0
        look = _look_part(model)
        kept: list[Hit] = []
        kept_vectors: list[np.ndarray] = [] if query is None else [look(query)]
        hidden = 0
        for hit in hits:
            vector = look(_vector(hit))
            if kept_vectors and float(np.max(np.stack(kept_vectors) @ vector)) >= (
                self.duplicate_threshold
            ):
                hidden += 1
                continue
            if len(kept) < k:
                kept.append(hit)
                kept_vectors.append(vector)
        return kept, hidden


class MilvusClock:
    """The wall time one answer spends in Milvus requests (the round trip and pymilvus's
    decoding), so an answer's timings can show Milvus's share apart from the API's own."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started

    @property
    def ms(self) -> float:
        return round(self.seconds * 1000, 2)


class SearchService:
    def __init__(self, store: PhotoStore, encoder: Encoder, catalog: Catalog):
        self.store = store
        self.encoder = encoder
        self.catalog = catalog
        self._collection_model: tuple[float | None, ModelInfo | None] = (None, None)

    def collection_model(
        self, *, fresh: bool = False, clock: MilvusClock | None = None
    ) -> ModelInfo | None:
        """The model recorded on the collection (cached briefly: it changes only on re-index)."""
        taken_at, model = self._collection_model
        if fresh or age_s(taken_at) > MODEL_CACHE_S:
            with (clock or MilvusClock()).timing():
                model = self.store.model()
            self._collection_model = (time.monotonic(), model)
        return model

    def _search(
        self,
        vector: np.ndarray,
        model: ModelInfo | None,
        k: int,
        breed: str | None,
        result_filter: ResultFilter,
        query_breed: str | None,
        clock: MilvusClock,
        exclude_id: str | None = None,
    ) -> tuple[list[ScoredHit], int, float | None]:
        """The hits to show, scored by :func:`scored` against ``query_breed``; how many
        near-duplicates were hidden; and the best similarity before any filter (what the match
        strength is judged on). Near-copies of the query come first (:func:`_near_copies`);
        ``model`` is the collection's. The vectors come along for the look scores (k of them,
        or ``OVERFETCH`` times k when hiding near-duplicates) and leave with :func:`scored`."""
        look = model.look_query(vector) if model is not None else None
        fetch_k = result_filter.fetch_k(k)
        copy_ids: set[str] = set()
        if model is None or look is None:
            with clock.timing():
                hits = self.store.search(
                    vector, fetch_k, breed=breed, exclude_id=exclude_id, with_vectors=True
                )
        else:  # one Milvus request for both queries: one round trip, one consistency wait
            with clock.timing():
                hits, by_look = self.store.search_many(
                    [vector, look],
                    max(fetch_k, NEAR_COPY_CANDIDATES),
                    breed=breed,
                    exclude_id=exclude_id,
                    with_vectors=True,
                )
            hits = hits[:fetch_k]
            copies = _near_copies(by_look[:NEAR_COPY_CANDIDATES], vector, model)
            if copies:
                copy_ids = {hit.id for hit in copies}
                hits = copies + [hit for hit in hits if hit.id not in copy_ids]
        best = max((hit.similarity for hit in hits), default=None)
        shown, hidden = result_filter.apply(
            hits, k, query=vector if exclude_id else None, model=model
        )
        return scored(shown, vector, model, query_breed, copy_ids), hidden, best

    def search_upload(
        self,
        data: bytes,
        filename: str,
        k: int,
        breed: str | None,
        result_filter: ResultFilter = ResultFilter(),
        *,
        localise: bool = True,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> SearchResult:
        """``localise``: ask where the dogs are (a search of a region already chosen need not)."""
        started = time.perf_counter()
        model, (encoded,) = self.encoder.encode([(filename, data)], dogs=localise)
        if not encoded.ok or encoded.vector is None:  # an ok answer always carries its vector
            status = 413 if encoded.error_code in ("image_too_large", "too_many_pixels") else 400
            raise InvalidImage(
                encoded.error_message or "invalid image", code=encoded.error_code, status=status
            )
        dogs, crop, searched_dog = None, None, None
        if encoded.dogs is not None:  # the page outlines each, and searches one by its crop
            dogs, crops = describe_dogs(self.encoder, data, encoded.dogs, max_pixels=max_pixels)
            searched_dog = dog_to_search(crops)
            crop = crops[searched_dog - 1] if searched_dog else None
        encoded_at = time.perf_counter()
        clock = MilvusClock()
        stored = self.collection_model(clock=clock)
        hits: list[ScoredHit] = []
        hidden, best = 0, None
        if stored is not None:
            if not stored.same_model(model):  # a re-index may have just switched
                stored = self.collection_model(fresh=True, clock=clock) or stored
            check_same_model(stored, model, self.store.collection)
            hits, hidden, best = self._search(
                encoded.vector, stored, k, breed, result_filter, _top_breed(encoded), clock
            )
            if hits and hits[0].near_copy:  # a stored copy of this very photo: its results
                crop, searched_dog = None, None
            if crop is not None and crop.vector is not None:
                hits, hidden, best = self._search(
                    crop.vector, stored, k, breed, result_filter, _top_breed(crop), clock
                )
        searched = crop or encoded
        finished = time.perf_counter()
        return SearchResult(
            k=k,
            breed=breed,
            query=_query_summary(encoded, model, dogs, searched.predictions, searched_dog),
            match=_match(best, model),
            results=[hit.answer() for hit in hits],
            hidden_duplicates=hidden,
            index_empty=stored is None,
            timings=_timings(started, encoded_at, finished, clock),
        )

    def similar(
        self, image_id: str, k: int, breed: str | None, result_filter: ResultFilter = ResultFilter()
    ) -> SimilarResult:
        started = time.perf_counter()
        clock = MilvusClock()
        with clock.timing():
            photos = self.store.get([image_id], with_vectors=True)
        if not photos or photos[0].vector is None:
            raise NotFound(f"no image with id {image_id}")
        fetched = time.perf_counter()
        # The query photo is not its own result: "more like this" means other photos.
        vector = photos[0].vector
        model = self.collection_model(clock=clock)
        own_breed = photos[0].breed
        hits, hidden, best = self._search(
            vector, model, k, breed, result_filter, own_breed, clock, image_id
        )
        finished = time.perf_counter()
        return SimilarResult.model_validate(
            {
                "k": k,
                "breed": breed,
                "query": {"id": image_id, "breed": own_breed, **image_urls(image_id)},
                "match": _match(best, model) if model else None,
                "results": [hit.answer() for hit in hits],
                "hidden_duplicates": hidden,
                "timings": {
                    "fetch_ms": round((fetched - started) * 1000, 2),
                    "search_ms": round((finished - fetched) * 1000, 2),
                    "milvus_ms": clock.ms,
                    "total_ms": round((finished - started) * 1000, 2),
                },
            }
        )

    def check_breed(self, breed: str | None) -> str | None:
        """The stored name of ``breed`` (any case), or a 400 when the index has no such breed."""
        if breed is None:
            return None
        found = self.catalog.snapshot().find_breed(breed)
        if found is None:
            raise ApiError(f"the index has no breed {breed[:80]!r}", code="unknown_breed")
        return found


@dataclass(frozen=True)
class ScoredHit:
    """A scored hit (:func:`scored` makes them); what each number means is in
    :class:`search_api.answers.Hit`, its answer."""

    photo: Photo  # without its vector
    similarity: float  # the cosine of the whole vectors (of the look, for a near-copy)
    look: float  # the cosine of the look parts alone
    same_breed: bool | None  # None when either breed is unknown
    near_copy: bool = False

    def answer(self) -> HitAnswer:
        return HitAnswer(
            **PhotoAnswer.of(self.photo).model_dump(),
            similarity=_shown_similarity(self.similarity),
            look=_shown_similarity(self.look),
            same_breed=self.same_breed,
            near_copy=self.near_copy,
        )


def scored(
    hits: list[Hit],
    query: np.ndarray,
    model: ModelInfo | None,
    query_breed: str | None,
    copies: Collection[str] = (),
) -> list[ScoredHit]:
    """``hits`` (each with its vector) scored, without their vectors: ``look``, the cosine of
    the look parts alone (``model.appearance`` of the hit's and the query's vectors: one
    ``[n, appearance_dims]`` product), ``same_breed``, whether the hit's breed is
    ``query_breed``, and ``near_copy``, whether its id is among ``copies``."""
    if not hits:
        return []
    look = _look_part(model)
    stored = look(np.stack([_vector(hit) for hit in hits]))
    looks = stored @ look(query)
    wanted = _known_breed(query_breed)
    out = []
    for hit, value in zip(hits, looks, strict=True):
        breed = _known_breed(hit.photo.breed)
        same = None if wanted is None or breed is None else breed == wanted
        photo = hit.photo.without_vector()
        out.append(ScoredHit(photo, hit.similarity, float(value), same, hit.id in copies))
    return out


def _vector(hit: Hit) -> np.ndarray:
    if hit.photo.vector is None:
        raise ValueError(f"hit {hit.id} was searched without its vector")
    return np.asarray(hit.photo.vector, np.float32)


def _near_copies(candidates: list[Hit], vector: np.ndarray, model: ModelInfo) -> list[Hit]:
    """The ``candidates`` (hits of ``model.look_query(vector)``, with vectors) that are
    near-copies of the query (``model.copy_from``), closest first: asked of Milvus by look,
    because the breed part of a re-saved copy's vector can swing far enough to lose it among
    photos of its breed. A near-copy's ``similarity`` is its look cosine when that is higher;
    its ``vector`` stays."""
    if not candidates:
        return []
    query = np.asarray(vector, dtype=np.float32)
    stored = np.stack([_vector(hit) for hit in candidates])
    looks = model.appearance(stored) @ model.appearance(query)
    fulls = stored @ query
    copies = [
        Hit(hit.photo, max(float(full), float(look)))
        for hit, look, full in zip(candidates, looks, fulls, strict=True)
        if look >= model.copy_from
    ]
    return sorted(copies, key=lambda hit: -hit.similarity)


def _known_breed(name: str | None) -> str | None:
    """A breed's matching key (:func:`breed_key`), or None for no breed or ``unknown``."""
    key = breed_key(name) if name else None
    return None if not key or key == breed_key(UNKNOWN_BREED) else key


def _look_part(model: ModelInfo | None) -> Callable[[np.ndarray], np.ndarray]:
    """The look part of unit vectors; without a recorded model, the whole vector."""
    if model is not None:
        return model.appearance
    return lambda vectors: np.asarray(vectors, np.float32)


def _top_breed(encoded: EncodedImage) -> str | None:
    return encoded.predictions[0].breed if encoded.predictions else None


def _query_summary(
    encoded: EncodedImage,
    model: ModelInfo,
    dogs: list[dict[str, Any]] | None = None,
    predictions: list[Prediction] | None = None,
    searched_dog: int | None = None,
) -> Query:
    """The photo as the encoder understood it: size, breed guesses (``predictions``: of the
    dog searched, when not the photo's) and whether it is a dog."""
    summary: dict[str, Any] = {
        "width": encoded.width,
        "height": encoded.height,
        "predictions": [
            p.to_dict() for p in (encoded.predictions if predictions is None else predictions)
        ],
    }
    if encoded.dog_score is not None:
        summary["dog"] = {
            "is_dog": encoded.dog_score >= model.dog_threshold,
            "score": encoded.dog_score,
            "threshold": model.dog_threshold,
        }
    if dogs is not None:
        summary["dogs"] = dogs
    if searched_dog is not None:
        summary["searched_dog"] = searched_dog
    return Query.model_validate(summary)


def _shown_similarity(similarity: float) -> float:
    # The vectors' parts are non-negative (post-ReLU features, square-rooted probabilities),
    # so cosine lies in [0, 1]; clamp what rounding pushes past it.
    return round(min(1.0, max(0.0, similarity)), 5)


def _match(best: float | None, model: ModelInfo) -> Match:
    """How close the closest photo is: strong, weak or none, with the calibrated bounds."""
    return Match(
        strength=model.match_strength(best),  # type: ignore[arg-type]
        best_similarity=None if best is None else _shown_similarity(best),
        strong_from=model.match_strong,
        weak_from=model.match_weak,
    )


def _timings(started: float, encoded: float, finished: float, clock: MilvusClock) -> SearchTimings:
    return SearchTimings(
        encode_ms=round((encoded - started) * 1000, 2),
        search_ms=round((finished - encoded) * 1000, 2),
        milvus_ms=clock.ms,
        total_ms=round((finished - started) * 1000, 2),
    )
