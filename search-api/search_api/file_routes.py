"""Image bytes at ``/images/<id>`` and cached JPEG thumbnails at ``/thumbs/<id>``.

Only files inside the dataset root are ever served: the path comes from the index, never
from the request, and is re-checked against the root after resolving links. Ids are content
hashes, so both answers are immutable and cached by browsers for a year.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, send_file

from search_api.answers import EXAMPLE_ID
from search_api.collaborators import collaborators
from search_api.schemas import image_id
from search_api.spec import MILVUS, Example, endpoint
from services.errors import ApiError, NotFound
from services.files import write_atomically
from services.imaging import make_thumbnail

log = logging.getLogger(__name__)
files = Blueprint("files", __name__)
IMMUTABLE = "public, max-age=31536000, immutable"
ONE = (Example("One photo", path={"id": EXAMPLE_ID}),)


@files.get("/images/<raw_id>")
@endpoint(
    tag="files",
    answers={200: (None, "The file as stored (cached for a year).")},
    media={200: "image/*"},
    errors=MILVUS,
    examples=ONE,
)
def original(raw_id: str):
    """The photo's file

    A deleted photo's file stays viewable, so that the bin can show what it restores.
    """
    path = collaborators().photos.original(image_id(raw_id))
    response = send_file(path, conditional=True, max_age=31536000)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


@files.get("/thumbs/<raw_id>")
@endpoint(
    tag="files",
    answers={200: (None, "A JPEG, SEARCH_API_THUMB_SIZE px on its long side.")},
    media={200: "image/jpeg"},
    errors=MILVUS,
    examples=ONE,
)
def thumbnail(raw_id: str):
    """The photo's thumbnail"""
    image_id_ = image_id(raw_id)
    path = collaborators().photos.original(image_id_)
    settings, library = collaborators().settings, collaborators().library
    cached = library.thumbnail_of(image_id_)
    if cached.is_file():
        response = send_file(cached, mimetype="image/jpeg", conditional=True, max_age=31536000)
    else:
        try:
            data = make_thumbnail(
                path.read_bytes(), settings.thumb_size, max_pixels=settings.max_pixels
            )
        except ApiError as error:
            raise NotFound(f"image {image_id_} cannot be thumbnailed: {error.message}") from None
        _store(cached, data)
        response = Response(data, mimetype="image/jpeg")
        response.set_etag(image_id_)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def _store(target: Path, data: bytes) -> None:
    """A full or read-only disk only costs the cache, never the answer."""
    try:
        write_atomically(target, data)
    except OSError as error:
        log.warning("thumbnail cache not written", extra={"path": str(target), "error": str(error)})
