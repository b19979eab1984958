"""The encoder's binary wire: raw image bytes in, little-endian float32 vectors out.

Multipart parsing, base64 and JSON cost more per image than a GPU's forward pass, so
``POST /encode`` also speaks this, negotiated by content type; JSON clients keep working.

Request, ``Content-Type: application/vnd.dogsearch.images``: for each image, its length as a
little-endian uint32, then its bytes.

Answer, when ``Accept`` prefers ``application/vnd.dogsearch.vectors``::

    b"DSV1" | header length (uint32 LE) | header (UTF-8 JSON) | vectors (float32 LE)

The header is the JSON answer of ``services.encoder_wire`` without the vectors (``model``,
``timings``, ``results`` with width, height, predictions, dog score and the dogs found when
asked, or an error, one per image) plus ``dim``; the vectors follow as one ``[ok, dim]``
row-major block, a row for each result without an error, in order. Errors of the whole
request stay JSON (``services.errors``).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from services.encoder_wire import VECTOR_DTYPE, EncodedImage, ModelInfo
from services.errors import ApiError

IMAGES_TYPE = "application/vnd.dogsearch.images"
VECTORS_TYPE = "application/vnd.dogsearch.vectors"
MAGIC = b"DSV1"
_LENGTH = struct.Struct("<I")


def pack_images(images: Sequence[bytes]) -> bytes:
    return b"".join(_LENGTH.pack(len(data)) + data for data in images)


def unpack_images(body: bytes, limit: int) -> list[bytes]:
    """The images of a request body; a 400 ``malformed_body`` when the lengths do not add up,
    a 413 ``too_many_images`` past ``limit``."""
    view, offset = memoryview(body), 0
    images: list[bytes] = []
    while offset < len(view):
        if offset + _LENGTH.size > len(view):
            raise ApiError("the body ends inside an image length", code="malformed_body")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += _LENGTH.size
        if offset + length > len(view):
            raise ApiError("an image is shorter than its length says", code="malformed_body")
        if len(images) == limit:
            raise ApiError(
                f"at most {limit} images per request", code="too_many_images", status=413
            )
        images.append(bytes(view[offset : offset + length]))
        offset += length
    return images


def pack_vectors(model: ModelInfo, results: Sequence[EncodedImage], timings: dict) -> bytes:
    rows = [result.vector for result in results if result.vector is not None]
    header = {
        "model": model.to_dict(),
        "dim": model.dim,
        "results": [result.metadata() for result in results],
        "timings": timings,
    }
    encoded = json.dumps(header, separators=(",", ":")).encode()
    block = np.asarray(rows, dtype=VECTOR_DTYPE).reshape(len(rows), model.dim)
    return MAGIC + _LENGTH.pack(len(encoded)) + encoded + block.tobytes()


def unpack_vectors(body: bytes) -> tuple[ModelInfo, list[EncodedImage], dict]:
    """``(model, results, timings)``; a ``ValueError`` for a body that is not this format."""
    if body[:4] != MAGIC or len(body) < 8:
        raise ValueError("not a dogsearch vectors answer")
    (length,) = _LENGTH.unpack_from(body, 4)
    header = json.loads(body[8 : 8 + length])
    dim = int(header["dim"])
    block = np.frombuffer(body, dtype=VECTOR_DTYPE, offset=8 + length).reshape(-1, dim)
    rows = iter(block.astype(np.float32))
    results = [_result(item, rows) for item in header["results"]]
    return ModelInfo.from_dict(header["model"]), results, header.get("timings", {})


def _result(item: dict[str, Any], rows) -> EncodedImage:
    """One result of the header; an answered image takes the next row of the vector block."""
    return EncodedImage.from_metadata(item, None if "error" in item else next(rows))
