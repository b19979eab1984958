"""What each endpoint answers: pydantic models, built by the views and the services.

spectree checks every answer against the model its route declares and the OpenAPI document's
response schemas are generated from these, so an answer's shape is written once. A model's
``examples`` are the example body the document shows (:func:`example`); the tests check each
against its schema, and every answer to an example request too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from services.dataset import ID_HEX_CHARS
from services.encoder_wire import ModelInfo
from services.photo import Photo as StoredPhoto
from services.photo import image_urls

EXAMPLE_ID = "3f9c2b7e1a4d8e6f0b5c9a21"  # an image id, in examples
PHOTO_ID: dict[str, Any] = {"type": "string", "pattern": f"^[0-9a-f]{{{ID_HEX_CHARS}}}$"}
Unit = Annotated[float, Field(ge=0, le=1)]
PhotoId = Annotated[str, Field(pattern=PHOTO_ID["pattern"])]


def example(body: dict[str, Any]) -> ConfigDict:
    """A model's config with ``body`` as the example the document shows."""
    return ConfigDict(json_schema_extra={"examples": [body]})


def left_out_when_none(**given: Any) -> Any:
    """An optional field that an answer leaves out rather than sending null."""
    return Field(None, exclude_if=lambda value: value is None, **given)


def _photo(breed: str, breed_id: int, path: str, image_id: str = EXAMPLE_ID) -> dict:
    return StoredPhoto(image_id, breed, breed_id, path, 500, 375, "train").to_json()


BEAGLE = _photo("beagle", 11, "n02088364-beagle/n02088364_10108.jpg")
OTHER_ID = "a41c7d0e93b25f68c1e7d3b9"
OTHER = _photo("beagle", 11, "n02088364-beagle/n02088364_1128.jpg", OTHER_ID)
MODEL = ModelInfo("tf_efficientnet_lite0", 1408, "9c1e0f3a5b7d2e4f", "checkpoint").to_dict()
MATCH = {"strength": "strong", "best_similarity": 0.97, "strong_from": 0.93, "weak_from": 0.6}
HIT = {**BEAGLE, "similarity": 0.97, "look": 0.83, "same_breed": True, "near_copy": False}


class ErrorDetail(BaseModel):
    code: str
    message: str


class Error(BaseModel):
    """Every refusal: clients match on `code`."""

    error: ErrorDetail
    model_config = ConfigDict(extra="allow")  # a failed upload also lists each photo's outcome


class Stored(BaseModel):
    """The fields of a stored photo (:data:`services.photo.FIELDS`) that the API shows."""

    id: PhotoId
    breed: Annotated[str, Field(max_length=128)]
    breed_id: int
    path: Annotated[str, Field(max_length=1024)]
    width: int
    height: int
    split: Annotated[str, Field(max_length=16)]


class Photo(Stored):
    """A stored photo as the API shows it."""

    model_config = ConfigDict(from_attributes=True)  # made from a services.photo.Photo

    @computed_field  # type: ignore[prop-decorator]
    @property
    def image_url(self) -> str:
        return image_urls(self.id)["image_url"]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def thumbnail_url(self) -> str:
        return image_urls(self.id)["thumbnail_url"]

    @classmethod
    def of(cls, photo: StoredPhoto) -> Photo:
        return cls.model_validate(photo)


class Hit(Photo):
    similarity: Unit = Field(
        description="Cosine similarity of the whole breed-aware vector (look and breed "
        "guesses): what results are ranked by and `min_similarity` filters on. Any photo of the "
        "query's breed scores high; `look` says how alike the dogs themselves are."
    )
    look: Unit = Field(
        description="Cosine similarity of the look part alone (the model's pooled features, "
        "each made a unit vector again): how much this photo looks like the query, whatever the "
        "breed guesses; for a same-looking dog. Equals `similarity` if vectors have no breed part."
    )
    same_breed: bool | None = Field(
        description="Whether this photo's breed is the query's: the encoder's top guess for a "
        "photo search, the stored breed (`query.breed`) for more-like-this; null when unknown."
    )
    near_copy: bool = Field(
        description="The query photo itself, re-saved, resized or lightly cropped (`look` of "
        "at least the model's `copy_from`); shown first."
    )


class Match(BaseModel):
    """Kept for compatibility: the best `similarity` against calibrated bounds; any photo of
    the query's breed scores high. See each result's `look` and `same_breed`."""

    strength: Literal["strong", "weak", "none"]
    best_similarity: Unit | None
    strong_from: float
    weak_from: float


class Prediction(BaseModel):
    breed: str
    breed_id: int
    probability: Unit


class Dog(BaseModel):
    is_dog: bool
    score: Unit
    threshold: Unit


Box = Annotated[list[Unit], Field(min_length=4, max_length=4)]


class FoundDog(BaseModel):
    """Several dogs: each one's region to search by (`crop`) and its breed guesses."""

    box: Box = Field(description="left, top, right, bottom as fractions of the photo")
    score: Unit
    crop: Box | None = left_out_when_none(description="the `box` to search this dog alone")
    predictions: list[Prediction] | None = left_out_when_none()


class Query(BaseModel):
    """The query photo as the encoder understood it; its dogs, most sure first."""

    width: int
    height: int
    predictions: list[Prediction]
    dog: Dog | None = left_out_when_none()
    dogs: list[FoundDog] | None = left_out_when_none()
    searched_dog: int | None = left_out_when_none(
        ge=1,
        description="Several dogs: which of `dogs` (from 1) the results are for, on its crop; "
        "left out when they are for the whole photo",
    )
    preview: str | None = left_out_when_none(description="a data: URL (search by URL only)")


class SearchTimings(BaseModel):
    """Milliseconds: ``encode_ms`` asking the encoder, ``search_ms`` everything after it,
    ``milvus_ms`` the part of ``search_ms`` spent in Milvus requests."""

    encode_ms: float
    search_ms: float
    milvus_ms: float
    total_ms: float


class SearchResult(BaseModel):
    k: int
    breed: str | None
    query: Query
    match: Match
    results: list[Hit]
    hidden_duplicates: int
    index_empty: bool
    timings: SearchTimings
    model_config = example(
        {
            "k": 12,
            "breed": None,
            "query": {
                "width": 640,
                "height": 480,
                "predictions": [{"breed": "beagle", "breed_id": 11, "probability": 0.91}],
                "dog": {"is_dog": True, "score": 0.98, "threshold": 0.5},
                "dogs": [{"box": [0.05, 0.2, 0.48, 0.95], "score": 0.97}],
            },
            "match": MATCH,
            "results": [HIT],
            "hidden_duplicates": 0,
            "index_empty": False,
            "timings": {"encode_ms": 41.2, "search_ms": 3.1, "milvus_ms": 2.6, "total_ms": 44.5},
        }
    )


class StoredQuery(BaseModel):
    id: PhotoId
    breed: str | None
    image_url: str
    thumbnail_url: str


class SimilarTimings(BaseModel):
    """Milliseconds: ``fetch_ms`` reading the photo's stored vector, ``search_ms`` everything
    after it, ``milvus_ms`` the time of both in Milvus requests (the read and the search)."""

    fetch_ms: float
    search_ms: float
    milvus_ms: float
    total_ms: float


class SimilarResult(BaseModel):
    k: int
    breed: str | None
    query: StoredQuery
    match: Match | None
    results: list[Hit]
    hidden_duplicates: int
    timings: SimilarTimings
    model_config = example(
        {
            "k": 12,
            "breed": None,
            "query": {"id": OTHER_ID, "breed": "beagle", **image_urls(OTHER_ID)},
            "match": MATCH,
            "results": [HIT],
            "hidden_duplicates": 0,
            "timings": {"fetch_ms": 1.2, "search_ms": 3.0, "milvus_ms": 3.7, "total_ms": 4.2},
        }
    )


class Breed(BaseModel):
    name: str
    label: str
    count: int
    id: int


class Breeds(BaseModel):
    breeds: list[Breed]
    total: int
    known: list[str] = Field(description="every label a photo can be given")
    model_config = example(
        {
            "breeds": [{"name": "beagle", "label": "Beagle", "count": 195, "id": 11}],
            "total": 195,
            "known": ["Chihuahua", "beagle"],
        }
    )


class Page(BaseModel):
    images: list[Photo]
    breed: str | None
    page: int
    per_page: int
    total: int
    pages: int
    model_config = example(
        {
            "images": [BEAGLE, OTHER],
            "breed": "beagle",
            "page": 1,
            "per_page": 48,
            "total": 2,
            "pages": 1,
        }
    )


class PhotoFile(Photo):
    file_bytes: int | None = Field(description="null when the file is missing")
    model_config = example({**BEAGLE, "file_bytes": 48213})


class Limits(BaseModel):
    max_upload_bytes: int
    default_k: int
    max_k: int
    duplicate_threshold: float


class Stats(BaseModel):
    count: int
    collection: str
    index_model: ModelInfo | None
    encoder_model: ModelInfo | None
    encoder_error: str | None
    model_matches: bool | None
    reindex_needed: bool
    writes: Literal["open", "key"]
    limits: Limits
    model_config = example(
        {
            "count": 20580,
            "collection": "dogs",
            "index_model": MODEL,
            "encoder_model": MODEL,
            "encoder_error": None,
            "model_matches": True,
            "reindex_needed": False,
            "writes": "key",
            "limits": {
                "max_upload_bytes": 20971520,
                "default_k": 12,
                "max_k": 100,
                "duplicate_threshold": 0.95,
            },
        }
    )


class Heat(BaseModel):
    rows: int
    cols: int
    grid: list[list[Unit]]
    peak: Annotated[list[Unit], Field(min_length=2, max_length=2)]


class Explained(BaseModel):
    similarity: float
    heat: Annotated[list[Heat], Field(min_length=2, max_length=2)] = Field(
        description="query first"
    )
    model_config = example(
        {
            "similarity": 0.81,
            "heat": [
                {"rows": 2, "cols": 2, "grid": [[0.1, 1.0], [0.0, 0.4]], "peak": [0.75, 0.25]},
                {"rows": 2, "cols": 2, "grid": [[0.9, 1.0], [0.2, 0.1]], "peak": [0.75, 0.25]},
            ],
        }
    )
