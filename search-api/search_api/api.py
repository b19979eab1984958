"""The JSON API under ``/api``: search, "more like this", browsing, stats."""

from __future__ import annotations

import base64
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request

from search_api.catalog import Catalog
from search_api.config import SearchApiSettings
from search_api.params import bool_param, float_param, image_id, int_param, optional_text
from search_api.search import ResultFilter, SearchService, serialise_row
from services.errors import ApiError, NotFound
from services.imaging import crop_fraction, make_thumbnail

api = Blueprint("api", __name__, url_prefix="/api")
PREVIEW_SIZE = 192  # px, the query preview of a search by URL


def _settings() -> SearchApiSettings:
    return current_app.extensions["settings"]


def _search() -> SearchService:
    return current_app.extensions["search"]


def _catalog() -> Catalog:
    return current_app.extensions["catalog"]


def _k() -> int:
    settings = _settings()
    return int_param(
        _param("k"),
        "k",
        default=settings.default_k,
        low=1,
        high=settings.max_k,
    )


def _json_body() -> dict:
    if not request.is_json:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError("the body is not a JSON object", code="invalid_json")
    return body


def _param(name: str) -> str | None:
    """A parameter from the query string, the form (uploads) or a JSON body (URL search)."""
    value = request.args.get(name) or request.form.get(name) or _json_body().get(name)
    return None if value is None else str(value)


def _result_filter() -> ResultFilter:
    min_similarity = float_param(_param("min_similarity"), "min_similarity", low=0.0, high=1.0)
    threshold = float_param(_param("duplicate_threshold"), "duplicate_threshold", low=0.5, high=1.0)
    if threshold is None and bool_param(_param("hide_duplicates"), "hide_duplicates"):
        threshold = _settings().duplicate_threshold
    return ResultFilter(min_similarity, threshold)


def _box() -> tuple[float, float, float, float] | None:
    raw = optional_text(_param("box"))
    if raw is None:
        return None
    parts = raw.split(",")
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or any(value != value for value in values):  # also refuses nan
        raise ApiError("box must be four numbers: left,top,right,bottom", code="invalid_box")
    return values  # type: ignore[return-value]


@api.post("/search")
def search():
    """A photo as multipart ``image``, or a ``url`` to fetch (form field or JSON body).

    Optional ``k``, ``breed``, ``min_similarity``, ``hide_duplicates``/``duplicate_threshold``,
    and ``box`` (left,top,right,bottom fractions of the photo) to search one region.
    """
    upload = request.files.get("image")
    url = optional_text(_param("url")) if upload is None else None
    if upload is None and url is None:
        raise ApiError(
            "send the photo as a multipart file field named 'image', or give a 'url'",
            code="no_image",
        )
    k = _k()
    breed = _search().check_breed(optional_text(_param("breed")))
    only = _result_filter()
    box = _box()
    if upload is not None:
        data, name = upload.read(), upload.filename or "upload"
    else:
        data, name = current_app.extensions["fetcher"].fetch(url), "url"
    if box is not None:  # search only the region the user drew
        data = crop_fraction(data, box, max_pixels=_settings().max_pixels)
    result = _search().search_upload(data, name, k, breed, only)
    if url is not None:  # the page cannot show a remote image (CSP), so it gets a preview
        thumb = make_thumbnail(data, PREVIEW_SIZE, max_pixels=_settings().max_pixels)
        result["query"]["preview"] = "data:image/jpeg;base64," + base64.b64encode(thumb).decode()
    return jsonify({"k": k, "breed": breed, **result})


@api.get("/images/<raw_id>/similar")
def similar(raw_id: str):
    k = _k()
    breed = _search().check_breed(optional_text(request.args.get("breed")))
    only = _result_filter()
    return jsonify({"k": k, "breed": breed, **_search().similar(image_id(raw_id), k, breed, only)})


@api.get("/breeds")
def breeds():
    snapshot = _catalog().snapshot()
    known = list(current_app.extensions["library"].breeds.names)  # labels a photo can be given
    return jsonify({"breeds": snapshot.breeds, "total": len(snapshot.rows), "known": known})


@api.get("/images")
def images():
    settings = _settings()
    breed = optional_text(request.args.get("breed"))
    page = int_param(request.args.get("page"), "page", default=1, low=1, high=10**7)
    per_page = int_param(
        request.args.get("per_page"), "per_page", default=48, low=1, high=settings.max_per_page
    )
    breed = _search().check_breed(breed)
    rows, total = _catalog().snapshot().page(breed, page, per_page)
    return jsonify(
        {
            "images": [serialise_row(row) for row in rows],
            "breed": breed,
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": (total + per_page - 1) // per_page,
        }
    )


@api.get("/images/<raw_id>")
def image(raw_id: str):
    row = lookup_row(image_id(raw_id))
    path = stored_file(row)
    return jsonify({**serialise_row(row), "file_bytes": path.stat().st_size if path else None})


@api.get("/stats")
def stats():
    """Index size and whether the encoder's model matches the one that built the index."""
    search, settings = _search(), _settings()
    stored = search.collection_model()
    count = search.store.count() if stored is not None else 0
    try:
        encoder_model = search.encoder.info()
        encoder_info, encoder_error = encoder_model.to_dict(), None
    except ApiError as error:
        encoder_model, encoder_info, encoder_error = None, None, error.message
    matches = None
    if stored is not None and encoder_model is not None:
        matches = stored.same_model(encoder_model)
    return jsonify(
        {
            "count": count,
            "collection": search.store.collection,
            "index_model": stored.to_dict() if stored else None,
            "encoder_model": encoder_info,
            "encoder_error": encoder_error,
            "model_matches": matches,
            "reindex_needed": matches is False,
            "limits": {
                "max_upload_bytes": settings.max_upload_bytes,
                "default_k": settings.default_k,
                "max_k": settings.max_k,
                "duplicate_threshold": settings.duplicate_threshold,
            },
        }
    )


def stored_file(row: dict) -> Path | None:
    """The row's file (dataset or library), or ``None`` when it is missing or outside."""
    return current_app.extensions["library"].file_of(row)


def lookup_row(image_id_: str) -> dict:
    """Metadata of one image: the catalogue first, Milvus for images newer than the catalogue."""
    row = _catalog().snapshot().by_id.get(image_id_)
    if row is None:
        rows = _search().store.get([image_id_]) if _search().collection_model() else []
        if not rows:
            raise NotFound(f"no image with id {image_id_}")
        row = rows[0]
    return row
