"""The encoder's HTTP API: ``POST /encode`` and ``GET /info``. Views parse and serialise only."""

from __future__ import annotations

import platform

import torch
from flask import Blueprint, current_app, jsonify, request

from encoder.service import EncodingService
from services.errors import ApiError

api = Blueprint("encoder_api", __name__)


def _service() -> EncodingService:
    return current_app.extensions["encoding"]


@api.post("/encode")
def encode():
    """Multipart upload, one or many files (any field name); see ``services.schema``."""
    service = _service()
    files = request.files.getlist("image") or [f for _, f in request.files.items(multi=True)]
    if not files:
        raise ApiError("send one or more images as multipart form files", code="no_image")
    limit = service.settings.max_images_per_request
    if len(files) > limit:
        raise ApiError(f"at most {limit} images per request", code="too_many_images", status=413)
    results, timings = service.encode([file.read() for file in files])
    as_json = request.args.get("vectors") == "json"
    return jsonify(
        {
            "model": service.encoder.info.to_dict(),
            "results": [result.to_dict(vectors_as_json=as_json) for result in results],
            "timings": timings,
        }
    )


@api.get("/info")
def info():
    service = _service()
    encoder = service.encoder
    return jsonify(
        {
            "model": encoder.info.to_dict(),
            "device": str(encoder.device),
            "backend": service.backend,
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
