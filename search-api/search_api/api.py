"""The JSON API under ``/api``: search, "more like this", browsing, stats."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, request

from search_api.catalog import Catalog
from search_api.config import SearchApiSettings
from search_api.params import image_id, int_param, optional_text
from search_api.search import SearchService, serialise_row
from services.dataset import safe_join
from services.errors import ApiError, NotFound

api = Blueprint("api", __name__, url_prefix="/api")


def _settings() -> SearchApiSettings:
    return current_app.extensions["settings"]


def _search() -> SearchService:
    return current_app.extensions["search"]


def _catalog() -> Catalog:
    return current_app.extensions["catalog"]


def _k() -> int:
    settings = _settings()
    return int_param(
        request.args.get("k") or request.form.get("k"),
        "k",
        default=settings.default_k,
        low=1,
        high=settings.max_k,
    )


@api.post("/search")
def search():
    """Multipart ``image``; optional ``k`` and ``breed`` (form fields or query string)."""
    upload = request.files.get("image")
    if upload is None:
        raise ApiError("send the photo as a multipart file field named 'image'", code="no_image")
    k = _k()
    breed = _search().check_breed(
        optional_text(request.args.get("breed") or request.form.get("breed"))
    )
    data = upload.read()
    result = _search().search_upload(data, upload.filename or "upload", k, breed)
    return jsonify({"k": k, "breed": breed, **result})


@api.get("/images/<raw_id>/similar")
def similar(raw_id: str):
    k = _k()
    breed = _search().check_breed(optional_text(request.args.get("breed")))
    return jsonify({"k": k, "breed": breed, **_search().similar(image_id(raw_id), k, breed)})


@api.get("/breeds")
def breeds():
    snapshot = _catalog().snapshot()
    return jsonify({"breeds": snapshot.breeds, "total": len(snapshot.rows)})


@api.get("/images")
def images():
    settings = _settings()
    breed = optional_text(request.args.get("breed"))
    page = int_param(request.args.get("page"), "page", default=1, low=1, high=10**7)
    per_page = int_param(
        request.args.get("per_page"), "per_page", default=48, low=1, high=settings.max_per_page
    )
    snapshot = _catalog().snapshot()
    if breed is not None and not snapshot.has_breed(breed):
        raise ApiError(f"unknown breed {breed!r}; see /api/breeds", code="unknown_breed")
    rows, total = snapshot.page(breed, page, per_page)
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
        matches = (
            stored.fingerprint == encoder_model.fingerprint and stored.dim == encoder_model.dim
        )
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
            },
        }
    )


def stored_file(row: dict) -> Path | None:
    """The row's file inside the dataset root, or ``None`` when it is missing or outside."""
    path = safe_join(_settings().dataset_root, row["path"])
    return path if path is not None and path.is_file() else None


def lookup_row(image_id_: str) -> dict:
    """Metadata of one image: the catalogue first, Milvus for images newer than the catalogue."""
    row = _catalog().snapshot().by_id.get(image_id_)
    if row is None:
        rows = _search().store.get([image_id_]) if _search().collection_model() else []
        if not rows:
            raise NotFound(f"no image with id {image_id_}")
        row = rows[0]
    return row
