"""Library management API: add photos, delete them (one, many, a whole breed), relabel them."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from search_api.catalog import Catalog
from search_api.library import Library
from search_api.params import float_param, image_id, int_param, optional_text
from search_api.recycle import RecycleBin
from search_api.search import serialise_row
from services.errors import ApiError

manage = Blueprint("manage", __name__, url_prefix="/api")


def _library() -> Library:
    return current_app.extensions["library"]


def _recycle() -> RecycleBin:
    return current_app.extensions["recycle"]


def _catalog() -> Catalog:
    return current_app.extensions["catalog"]


def _json_object() -> dict:
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise ApiError("send a JSON object (Content-Type: application/json)", code="invalid_json")
    return body


@manage.post("/images")
def add_images():
    """Multipart: one or more ``image`` files and an optional ``breed`` (or ``unknown``)."""
    uploads = request.files.getlist("image")
    if not uploads:
        raise ApiError("send one or more photos as multipart fields named 'image'", code="no_image")
    limit = current_app.extensions["settings"].max_images_per_upload
    if len(uploads) > limit:
        raise ApiError(f"at most {limit} photos per request", code="too_many_images", status=413)
    files = [(upload.filename or f"photo-{n}", upload.read()) for n, upload in enumerate(uploads)]
    results = _library().add(files, optional_text(request.form.get("breed")))
    _catalog().invalidate()
    added = sum(result["status"] == "added" for result in results)
    if added:
        return jsonify({"results": results, "added": added}), 201
    if any(result["status"] == "exists" for result in results):
        return jsonify({"results": results, "added": 0}), 200
    first = results[0]["error"]  # every photo failed: the error format, with each outcome
    return jsonify({"error": first, "results": results, "added": 0}), 400


@manage.delete("/images/<raw_id>")
def delete_image(raw_id: str):
    outcome = _recycle().delete([image_id(raw_id)])
    _catalog().invalidate()
    if not outcome["deleted"]:
        raise ApiError(f"no image with id {raw_id[:80]!r}", code="not_found", status=404)
    return jsonify(outcome)


@manage.post("/images/delete")
def delete_images():
    """JSON ``{"ids": [...]}`` or ``{"breed": "..."}`` (every image of that breed)."""
    body = _json_object()
    ids, breed = body.get("ids"), body.get("breed")
    if (ids is None) == (breed is None):
        raise ApiError("give either 'ids' (a list) or 'breed'", code="invalid_selection")
    if breed is not None:
        if not isinstance(breed, str):
            raise ApiError("'breed' must be a breed name", code="unknown_breed")
        breed = current_app.extensions["search"].check_breed(breed)
        ids = [row["id"] for row in _catalog().snapshot().rows if row["breed"] == breed]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError("'ids' must be a list of image ids", code="invalid_selection")
    if len(ids) > 10_000:
        raise ApiError("at most 10000 ids per request", code="invalid_selection", status=413)
    outcome = _recycle().delete([image_id(i) for i in ids])
    _catalog().invalidate()
    return jsonify(outcome)


@manage.get("/duplicates")
def duplicates():
    """Groups of near-duplicate photos: ``threshold`` (cosine, default from the settings)."""
    settings = current_app.extensions["settings"]
    threshold = float_param(request.args.get("threshold"), "threshold", low=0.5, high=1.0)
    threshold = settings.duplicate_threshold if threshold is None else threshold
    limit = int_param(request.args.get("limit"), "limit", default=100, low=1, high=10_000)
    found = current_app.extensions["duplicates"].groups(threshold)
    shown = found["groups"][:limit]
    by_id = dict(_catalog().snapshot().by_id)
    newer = [i for group in shown for i in group["ids"] if i not in by_id]  # catalogue lags
    by_id.update({row["id"]: row for row in _library().store.get(newer)})
    groups = [
        {
            "max_similarity": group["max_similarity"],
            "images": [serialise_row(by_id[i]) for i in group["ids"] if i in by_id],
        }
        for group in shown
    ]
    return jsonify(
        {
            "threshold": threshold,
            "groups": [group for group in groups if len(group["images"]) > 1],
            "group_count": len(found["groups"]),
            "compared": found["compared"],
            "seconds": found["seconds"],
        }
    )


@manage.get("/deleted")
def deleted_photos():
    """Deleted photos, newest first, each restorable: dataset originals (kept out of every
    ingest until restored) and photos added through the API (their file in the trash)."""
    photos = _recycle().deleted_photos()
    return jsonify({"images": photos, "total": len(photos)})


@manage.post("/images/<raw_id>/restore")
def restore_image(raw_id: str):
    """Undo a deletion: the photo is encoded again from its file and searchable at once."""
    outcome = _recycle().restore(image_id(raw_id))
    _catalog().invalidate()
    return jsonify(outcome)


@manage.delete("/deleted/<raw_id>")
def purge_image(raw_id: str):
    """Delete a photo added through the API for good (its file leaves the trash)."""
    return jsonify(_recycle().purge(image_id(raw_id)))


@manage.patch("/images/<raw_id>")
def relabel_image(raw_id: str):
    """JSON ``{"breed": "..."}``: a breed from the list, or ``unknown``."""
    body = _json_object()
    if "breed" not in body or not isinstance(body["breed"], str):
        raise ApiError("give the new 'breed' as a string", code="invalid_breed")
    row = _library().relabel(image_id(raw_id), body["breed"])
    _catalog().invalidate()
    return jsonify(row)
