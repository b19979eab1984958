"""The encoder's HTTP API: ``POST /encode`` and ``GET /info``. Views parse and serialise only."""

from __future__ import annotations

import platform

import torch
from flask import Blueprint, Response, current_app, jsonify, request

from encoder.explain import explain as explain_pair
from encoder.service import EncodingService
from services.errors import ApiError
from services.wire import IMAGES_TYPE, VECTORS_TYPE, pack_vectors, unpack_images

api = Blueprint("encoder_api", __name__)


def _service() -> EncodingService:
    return current_app.extensions["encoding"]


@api.post("/encode")
def encode():
    """Multipart upload (any field name) or the binary wire (``services.wire``); the answer is
    JSON (``services.encoder_wire``) unless ``Accept`` prefers the binary vectors. ``dogs=1``
    adds where each dog is (when the encoder localises at all)."""
    service = _service()
    limit = service.settings.max_images_per_request
    files = _uploaded_files(limit)
    if not files:
        raise ApiError("send one or more images as multipart form files", code="no_image")
    if len(files) > limit:
        raise ApiError(f"at most {limit} images per request", code="too_many_images", status=413)
    results, timings = service.encode(files, dogs=_wants_dogs())
    model = service.encoder.info
    if request.accept_mimetypes.best_match(["application/json", VECTORS_TYPE]) == VECTORS_TYPE:
        return Response(pack_vectors(model, results, timings), mimetype=VECTORS_TYPE)
    as_json = request.args.get("vectors") == "json"
    return jsonify(
        {
            "model": model.to_dict(),
            "results": [result.to_dict(vectors_as_json=as_json) for result in results],
            "timings": timings,
        }
    )


def _wants_dogs() -> bool:
    """``dogs=1`` (query string or form field) asks for each dog found: it costs ~3.2x an
    encode, so only a search the user watches asks, never a bulk ingest."""
    form = request.form if request.mimetype == "multipart/form-data" else {}
    raw = request.args.get("dogs", form.get("dogs", "0")).strip().lower()
    if raw not in ("0", "1", "true", "false", ""):
        raise ApiError("dogs must be 1 or 0", code="bad_dogs")
    return raw in ("1", "true")


def _uploaded_files(limit: int) -> list[bytes]:
    if request.mimetype == IMAGES_TYPE:
        return unpack_images(request.get_data(cache=False), limit)
    uploads = request.files.getlist("image") or [f for _, f in request.files.items(multi=True)]
    return [upload.read() for upload in uploads]


@api.post("/explain")
def explain():
    """Two images as multipart files (``first`` and ``second``, or any two): where each
    resembles the other; see :mod:`encoder.explain` for the maps."""
    service = _service()
    files = [request.files.get("first"), request.files.get("second")]
    if None in files:
        files = [f for _, f in request.files.items(multi=True)]
    if len(files) != 2:
        raise ApiError("send exactly two images, as files first and second", code="two_images")
    images = [service.decode(file.read()).image for file in files]
    answer = explain_pair(current_app.extensions["spatial"], *images)
    return jsonify({"model": service.encoder.info.to_dict(), **answer})


@api.get("/info")
def info():
    service = _service()
    encoder = service.encoder
    return jsonify(
        {
            "model": encoder.info.to_dict(),
            "calibration": encoder.calibration.to_dict(),
            "device": str(encoder.device),
            "backend": service.backend,
            "localiser": getattr(service.localiser, "name", "off"),
            "decode": service.decoder,
            "wire": {
                "request": [IMAGES_TYPE, "multipart/form-data"],
                "answer": [VECTORS_TYPE, "application/json"],
            },
            "amp": encoder.use_amp,
            "max_batch": service.settings.max_batch,
            "max_wait_ms": service.settings.max_wait_ms,
            "threads": torch.get_num_threads(),
            "classes": len(encoder.class_names),
            "batches_run": service.batcher.batches_run,
            "images_run": service.batcher.images_run,
            "torch": torch.__version__,
            "python": platform.python_version(),
        }
    )
