"""The JSON API under ``/api``: search, "more like this", browsing, stats."""

from __future__ import annotations

import base64

from flask import Blueprint, jsonify

from search_api import replies
from search_api.auth import writes_mode
from search_api.collaborators import collaborators
from search_api.operations import ENCODER, MILVUS, UPLOAD, Example, operation
from search_api.params import IMAGE_ID, Location, Param, Setting
from search_api.search import ResultFilter
from services.errors import ApiError
from services.imaging import crop_fraction, make_thumbnail

api = Blueprint("api", __name__, url_prefix="/api")
PREVIEW_SIZE = 192  # px, the query preview of a search by URL


IN_REQUEST: tuple[Location, ...] = ("query", "form", "json")  # where a search's options may be
K = Param(
    "k",
    "int",
    "How many results to return.",
    where=IN_REQUEST,
    low=1,
    high=Setting("max_k"),
    default=Setting("default_k"),
    example=5,
)
BREED = Param(
    "breed",
    "text",
    "Only photos of this breed (any case): a breed the index has (GET /api/breeds).",
    where=IN_REQUEST,
    example="Chihuahua",
)
MIN_SIMILARITY = Param(
    "min_similarity",
    "float",
    "Leave out results less similar than this (cosine similarity).",
    where=IN_REQUEST,
    low=0.0,
    high=1.0,
    example=0.6,
)
HIDE_DUPLICATES = Param(
    "hide_duplicates",
    "bool",
    "Leave out near-copies of a higher-ranked result or of the query photo "
    "(at the similarity SEARCH_API_DUPLICATE_THRESHOLD).",
    where=IN_REQUEST,
    default=False,
    example=True,
)
DUPLICATE_THRESHOLD = Param(
    "duplicate_threshold",
    "float",
    "Hide near-copies from this similarity up (implies hide_duplicates).",
    where=IN_REQUEST,
    low=0.5,
    high=1.0,
    example=0.97,
)
IMAGE = Param("image", "file", "The photo to search with.", where=("form",))
URL = Param(
    "url",
    "text",
    "Or a photo's http(s) URL, which the service fetches (public addresses only).",
    where=IN_REQUEST,
    example="https://example.com/rex.jpg",
)
BOX = Param(
    "box",
    "text",
    "Search one region: left,top,right,bottom as fractions (0 to 1) of the photo.",
    where=IN_REQUEST,
    example="0.1,0.2,0.8,0.9",
)
RANKING = (K, BREED, MIN_SIMILARITY, HIDE_DUPLICATES, DUPLICATE_THRESHOLD)
SIMILAR = (IMAGE_ID, *(param.at("query") for param in RANKING))
PAGE = Param("page", "int", "The page, from 1.", low=1, high=10**7, default=1, example=2)
PER_PAGE = Param(
    "per_page", "int", "Photos per page.", low=1, high=Setting("max_per_page"), default=48
)
BROWSE_BREED = BREED.at("query")


def _ranking(params: tuple[Param, ...]) -> tuple[int, str | None, ResultFilter]:
    """``k``, the breed and the result filter, as both searches read them."""
    given = {param.name: param.read() for param in params if param.kind != "id"}
    threshold = given["duplicate_threshold"]
    if threshold is None and given["hide_duplicates"]:
        threshold = collaborators().settings.duplicate_threshold
    breed = collaborators().search.check_breed(given["breed"])
    return given["k"], breed, ResultFilter(given["min_similarity"], threshold)


def _box() -> tuple[float, float, float, float] | None:
    raw = BOX.read()
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
@operation(
    "Search by photo",
    tag="search",
    params=(IMAGE, URL, *RANKING, BOX),
    replies=(replies.SEARCH,),
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
            json={"url": URL.example, "hide_duplicates": True},
        ),
        Example("k below 1 is refused", form={"image": "@rex.jpg", "k": 0}, status=400),
    ),
    read_only=True,  # a POST only to carry the photo: needs no write key
)
def search():
    """A photo as multipart ``image``, or a ``url`` to fetch (form field or JSON body); the
    options come in the query string, the form or the JSON body alike. ``query.dogs`` lists
    the dogs found (not for a ``box`` search); with several, each has its ``crop`` (the
    ``box`` to search it alone) and breed guesses, and the results and ``query.predictions``
    are those of the first (most sure) dog's crop."""
    upload = IMAGE.read()
    url = URL.read() if upload is None else None
    if upload is None and url is None:
        raise ApiError(
            "send the photo as a multipart file field named 'image', or give a 'url'",
            code="no_image",
        )
    k, breed, result_filter = _ranking(RANKING)
    box = _box()
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
        localise=box is None,  # a region searched is one dog already: not localised again
        max_pixels=deps.settings.max_pixels,
    )
    if url is not None:  # the page cannot show a remote image (CSP), so it gets a preview
        thumb = make_thumbnail(data, PREVIEW_SIZE, max_pixels=deps.settings.max_pixels)
        result["query"]["preview"] = "data:image/jpeg;base64," + base64.b64encode(thumb).decode()
    return jsonify({"k": k, "breed": breed, **result})


@api.get("/images/<raw_id>/similar")
@operation(
    "More like this: photos similar to a stored one",
    tag="search",
    params=SIMILAR,
    replies=(replies.SIMILAR,),
    errors=("unknown_breed", *MILVUS),
    examples=(Example("Five more like this one", path={"id": IMAGE_ID.example}, query={"k": 5}),),
)
def similar(raw_id: str):
    """The photo itself is not among its results: "more like this" means other photos."""
    image_id = IMAGE_ID.parse(raw_id)
    k, breed, result_filter = _ranking(SIMILAR)
    answer = collaborators().search.similar(image_id, k, breed, result_filter)
    return jsonify({"k": k, "breed": breed, **answer})


@api.get("/breeds")
@operation(
    "Breeds in the index, and the labels a photo can be given",
    tag="browse",
    replies=(replies.BREEDS,),
    errors=MILVUS,
    examples=(Example("Every breed"),),
)
def breeds():
    snapshot = collaborators().catalog.snapshot()
    known = collaborators().library.known_breeds()  # labels a photo can be given
    return jsonify({"breeds": snapshot.breeds, "total": len(snapshot.rows), "known": known})


@api.get("/images")
@operation(
    "Browse the photos, a page at a time",
    tag="browse",
    params=(BROWSE_BREED, PAGE, PER_PAGE),
    replies=(replies.IMAGES,),
    errors=("unknown_breed", *MILVUS),
    examples=(
        Example("A breed's second page", query={"breed": "Chihuahua", "page": 2, "per_page": 2}),
        Example("per_page 0 is refused", query={"per_page": 0}, status=400),
    ),
)
def images():
    """In path order, so a page holds the same photos until the library changes."""
    breed = collaborators().search.check_breed(BROWSE_BREED.read())
    page, per_page = PAGE.read(), PER_PAGE.read()
    rows, total = collaborators().catalog.snapshot().page(breed, page, per_page)
    return jsonify(
        {
            "images": [row.to_json() for row in rows],
            "breed": breed,
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": (total + per_page - 1) // per_page,
        }
    )


@api.get("/images/<raw_id>")
@operation(
    "One photo's metadata",
    tag="browse",
    params=(IMAGE_ID,),
    replies=(replies.IMAGE,),
    errors=MILVUS,
    examples=(
        Example("A stored photo", path={"id": IMAGE_ID.example}),
        Example("An id nothing has", path={"id": "0" * 24}, status=404),
    ),
)
def image(raw_id: str):
    photos = collaborators().photos
    row = photos.row(IMAGE_ID.parse(raw_id))
    path = photos.file(row)
    return jsonify({**row.to_json(), "file_bytes": path.stat().st_size if path else None})


@api.get("/stats")
@operation(
    "Index size, models and limits",
    tag="browse",
    replies=(replies.STATS,),
    errors=MILVUS,
    examples=(Example("The numbers"),),
)
def stats():
    """Index size, whether the encoder's model matches the one that built the index, and
    whether writes need the write key (``writes``: ``key`` or ``open``)."""
    deps = collaborators()
    settings, store = deps.settings, deps.store
    stored = deps.search.collection_model()
    count = store.count() if stored is not None else 0
    try:
        encoder_model = deps.encoder.info()
        encoder_info, encoder_error = encoder_model.to_dict(), None
    except ApiError as error:
        encoder_model, encoder_info, encoder_error = None, None, error.message
    matches = None
    if stored is not None and encoder_model is not None:
        matches = stored.same_model(encoder_model)
    return jsonify(
        {
            "count": count,
            "collection": store.collection,
            "index_model": stored.to_dict() if stored else None,
            "encoder_model": encoder_info,
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
