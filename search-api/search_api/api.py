"""The JSON API under ``/api``: search, "more like this", browsing, stats."""

from __future__ import annotations

import base64

from flask import Blueprint

from search_api.answers import (
    EXAMPLE_ID,
    Breeds,
    Page,
    Photo,
    PhotoFile,
    SearchResult,
    SimilarResult,
    Stats,
)
from search_api.auth import writes_mode
from search_api.collaborators import collaborators
from search_api.schemas import (
    Browse,
    Ranking,
    SearchForm,
    SearchJson,
    SearchQuery,
    SimilarQuery,
    filled,
    image_id,
)
from search_api.search import ResultFilter
from search_api.spec import ENCODER, MILVUS, UPLOAD, Example, endpoint, given
from services.errors import ApiError
from services.imaging import crop_fraction, make_thumbnail

api = Blueprint("api", __name__, url_prefix="/api")
PREVIEW_SIZE = 192  # px, the query preview of a search by URL


def _ranking(options: dict) -> tuple[int, str | None, ResultFilter]:
    """``k``, the breed and the result filter, as both searches read them."""
    options = filled(Ranking, options)
    threshold = options["duplicate_threshold"]
    if threshold is None and options["hide_duplicates"]:
        threshold = collaborators().settings.duplicate_threshold
    breed = collaborators().search.check_breed(options["breed"])
    return options["k"], breed, ResultFilter(options["min_similarity"], threshold)


def _box(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    parts = raw.split(",")
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or any(value != value for value in values):  # also refuses nan
        raise ApiError("box must be four numbers: left,top,right,bottom", code="invalid_box")
    return values


@api.post("/search")
@endpoint(
    tag="search",
    query=SearchQuery,
    form=SearchForm,
    json=SearchJson,
    answers={
        200: (
            SearchResult,
            "The closest photos, best first, with what the query photo looks like to the model.",
        )
    },
    errors=(
        "no_image",
        "unknown_breed",
        "invalid_box",
        "invalid_json",
        "url_not_allowed",
        "url_credentials",
        "url_fetch_failed",
        "model_mismatch",
        *UPLOAD,
        *ENCODER,
        *MILVUS,
    ),
    examples=(
        Example("A photo file, five results", form={"image": "@rex.jpg", "k": 5}),
        Example(
            "A photo's URL, hiding near-duplicates",
            json={"url": "https://example.com/rex.jpg", "hide_duplicates": True},
        ),
        Example("k below 1 is refused", form={"image": "@rex.jpg", "k": 0}, status=400),
    ),
    read_only=True,  # a POST only to carry the photo: needs no write key
)
def search():
    """Search by photo

    A photo as multipart ``image``, or a ``url`` to fetch (form field or JSON body); the
    options come in the query string, the form or the JSON body alike (the query string first).
    ``query.dogs`` lists the dogs found (not for a ``box`` search, nor with ``dogs=false``);
    with several, each has its ``crop`` (the ``box`` to search it alone) and breed guesses,
    and when the dogs are of different breeds the results and ``query.predictions`` are those
    of the most sure dog's crop (``query.searched_dog``); otherwise the whole photo's.
    """
    parts = [given(SearchJson), given(SearchForm), given(SearchQuery)]
    options = {name: value for part in parts if part for name, value in part.given().items()}
    form = given(SearchForm)
    upload = form.image if form else None
    url = options.get("url") if upload is None else None
    if upload is None and url is None:
        raise ApiError(
            "send the photo as a multipart file field named 'image', or give a 'url'",
            code="no_image",
        )
    k, breed, result_filter = _ranking(options)
    box = _box(options.get("box"))
    deps = collaborators()
    if upload is not None:
        data, name = upload.read(), upload.filename or "upload"
    else:
        data, name = deps.fetcher.fetch(url), "url"
    if box is not None:  # search only the region the user drew
        data = crop_fraction(data, box, max_pixels=deps.settings.max_pixels)
    result = deps.search.search_upload(
        data,
        name,
        k,
        breed,
        result_filter,
        # a region searched is one dog already: not localised again
        localise=box is None and options.get("dogs", True),
        max_pixels=deps.settings.max_pixels,
    )
    if url is not None:  # the page cannot show a remote image (CSP), so it gets a preview
        thumb = make_thumbnail(data, PREVIEW_SIZE, max_pixels=deps.settings.max_pixels)
        result.query.preview = "data:image/jpeg;base64," + base64.b64encode(thumb).decode()
    return result


@api.get("/images/<raw_id>/similar")
@endpoint(
    tag="search",
    query=SimilarQuery,
    answers={200: (SimilarResult, "Other photos like this one, best first.")},
    errors=("unknown_breed", *MILVUS),
    examples=(Example("Five more like this one", path={"id": EXAMPLE_ID}, query={"k": 5}),),
)
def similar(raw_id: str):
    """More like this: photos similar to a stored one

    The photo itself is not among its results: "more like this" means other photos.
    """
    options = given(SimilarQuery)
    k, breed, result_filter = _ranking(options.given() if options else {})
    return collaborators().search.similar(image_id(raw_id), k, breed, result_filter)


@api.get("/breeds")
@endpoint(
    tag="browse",
    answers={
        200: (
            Breeds,
            "The breeds in the index with their photo counts, and every label a photo can be "
            "given.",
        )
    },
    errors=MILVUS,
    examples=(Example("Every breed"),),
)
def breeds():
    """Breeds in the index, and the labels a photo can be given"""
    snapshot = collaborators().catalog.snapshot()
    known = collaborators().library.known_breeds()  # labels a photo can be given
    return Breeds.model_validate(
        {"breeds": snapshot.breeds, "total": len(snapshot.rows), "known": known}
    )


@api.get("/images")
@endpoint(
    tag="browse",
    query=Browse,
    answers={200: (Page, "One page of photos, in path order.")},
    errors=("unknown_breed", *MILVUS),
    examples=(
        Example("A breed's second page", query={"breed": "Chihuahua", "page": 2, "per_page": 2}),
        Example("per_page 0 is refused", query={"per_page": 0}, status=400),
    ),
)
def images():
    """Browse the photos, a page at a time

    In path order, so a page holds the same photos until the library changes.
    """
    asked = given(Browse)
    options = filled(Browse, asked.given() if asked else {})
    breed = collaborators().search.check_breed(options["breed"])
    page, per_page = options["page"], options["per_page"]
    rows, total = collaborators().catalog.snapshot().page(breed, page, per_page)
    return Page(
        images=[Photo.of(row) for row in rows],
        breed=breed,
        page=page,
        per_page=per_page,
        total=total,
        pages=(total + per_page - 1) // per_page,
    )


@api.get("/images/<raw_id>")
@endpoint(
    tag="browse",
    answers={
        200: (
            PhotoFile,
            "The photo's metadata and the size of its file (null when the file is missing).",
        )
    },
    errors=MILVUS,
    examples=(
        Example("A stored photo", path={"id": EXAMPLE_ID}),
        Example("An id nothing has", path={"id": "0" * 24}, status=404),
    ),
)
def image(raw_id: str):
    """One photo's metadata"""
    photos = collaborators().photos
    row = photos.row(image_id(raw_id))
    path = photos.file(row)
    return PhotoFile(**Photo.of(row).model_dump(), file_bytes=path.stat().st_size if path else None)


@api.get("/stats")
@endpoint(
    tag="browse",
    answers={
        200: (
            Stats,
            "Index size, the models of the index and of the encoder, and the request limits.",
        )
    },
    errors=MILVUS,
    examples=(Example("The numbers"),),
)
def stats():
    """Index size, models and limits

    Index size, whether the encoder's model matches the one that built the index, and
    whether writes need the write key (``writes``: ``key`` or ``open``).
    """
    deps = collaborators()
    settings, store = deps.settings, deps.store
    stored = deps.search.collection_model()
    count = store.count() if stored is not None else 0
    try:
        encoder_model, encoder_error = deps.encoder.info(), None
    except ApiError as error:
        encoder_model, encoder_error = None, error.message
    matches = None
    if stored is not None and encoder_model is not None:
        matches = stored.same_model(encoder_model)
    return Stats.model_validate(
        {
            "count": count,
            "collection": store.collection,
            "index_model": stored,
            "encoder_model": encoder_model,
            "encoder_error": encoder_error,
            "model_matches": matches,
            "reindex_needed": matches is False,
            "writes": writes_mode(settings),
            "limits": {
                "max_upload_bytes": settings.max_upload_bytes,
                "default_k": settings.default_k,
                "max_k": settings.max_k,
                "duplicate_threshold": settings.duplicate_threshold,
            },
        }
    )
