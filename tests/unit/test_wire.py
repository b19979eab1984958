"""The binary wire: raw images in, float32 vectors out, negotiated beside JSON."""

from __future__ import annotations

import io
import struct
import threading

import numpy as np
import pytest
from werkzeug.serving import make_server

from encoder.app import create_app
from encoder.config import EncoderSettings
from services.encoder_client import EncoderClient
from services.encoder_wire import EncodedImage, ModelInfo, Prediction, unpack_vector
from services.errors import ApiError
from services.wire import (
    IMAGES_TYPE,
    VECTORS_TYPE,
    pack_images,
    pack_vectors,
    unpack_images,
    unpack_vectors,
)
from tests.support.http_stub import JsonHandler, serving
from tests.support.synthetic import jpeg_bytes

MODEL = ModelInfo(arch="resnet152", dim=4, fingerprint="f", weights="imagenet")


def test_images_round_trip_and_bad_bodies_are_4xx():
    images = [b"first", b"", b"\xff\xd8third"]
    assert unpack_images(pack_images(images), limit=3) == images
    body = pack_images(images)
    for broken in (body[:-1], body + b"\x01\x00"):
        with pytest.raises(ApiError) as raised:
            unpack_images(broken, limit=3)
        assert (raised.value.status, raised.value.code) == (400, "malformed_body")
    with pytest.raises(ApiError) as raised:
        unpack_images(body, limit=2)
    assert (raised.value.status, raised.value.code) == (413, "too_many_images")


def test_vectors_round_trip_bit_for_bit_with_errors_in_between():
    rng = np.random.default_rng(0)
    results = [
        EncodedImage(
            rng.standard_normal(4).astype(np.float32), 500, 375, [Prediction("a", 1, 0.5)], 0.9
        ),
        EncodedImage(error_code="invalid_image", error_message="corrupt"),
        EncodedImage(rng.standard_normal(4).astype(np.float32), 10, 20),
    ]
    body = pack_vectors(MODEL, results, {"decode_ms": 1.0})
    assert body[:4] == b"DSV1"
    (header_length,) = struct.unpack_from("<I", body, 4)
    assert len(body) == 8 + header_length + 2 * 4 * 4  # two rows of four float32
    model, decoded, timings = unpack_vectors(body)
    assert model == MODEL and timings == {"decode_ms": 1.0}
    assert decoded[1].error_code == "invalid_image" and not decoded[1].ok
    for ours, theirs in zip(decoded[::2], results[::2], strict=True):
        assert ours.vector.tobytes() == theirs.vector.tobytes()
        assert (ours.width, ours.height, ours.predictions, ours.dog_score) == (
            theirs.width,
            theirs.height,
            theirs.predictions,
            theirs.dog_score,
        )
    with pytest.raises(ValueError):
        unpack_vectors(b'{"model": {}}')


@pytest.fixture(scope="module")
def encoder_app():
    app = create_app(EncoderSettings(arch="efficientnet_lite0", max_images_per_request=4))
    yield app
    app.extensions["encoding"].stop()


def test_the_encoder_negotiates_binary_and_keeps_json(encoder_app):
    client = encoder_app.test_client()
    files = [jpeg_bytes(1), b"not an image", jpeg_bytes(2)]
    as_json = client.post(
        "/encode",
        data={"image": [(io.BytesIO(f), f"{i}.jpg") for i, f in enumerate(files)]},
        content_type="multipart/form-data",
        headers={"Accept": "*/*"},
    )
    assert as_json.mimetype == "application/json"
    binary = client.post(
        "/encode",
        data=pack_images(files),
        headers={"Content-Type": IMAGES_TYPE, "Accept": VECTORS_TYPE},
    )
    assert binary.status_code == 200 and binary.mimetype == VECTORS_TYPE
    assert len(binary.data) < len(as_json.data) * 0.8
    _, results, _ = unpack_vectors(binary.data)
    expected = as_json.get_json()["results"]
    assert results[1].error_code == expected[1]["error"]["code"] == "invalid_image"
    for ours, theirs in zip(results[::2], expected[::2], strict=True):
        assert np.allclose(ours.vector, unpack_vector(theirs["vector"]), atol=1e-6)
        assert ours.predictions[0].breed == theirs["predictions"][0]["breed"]
    too_many = client.post("/encode", data=pack_images(files * 2), content_type=IMAGES_TYPE)
    assert too_many.status_code == 413 and too_many.get_json()["error"]["code"] == "too_many_images"
    torn = client.post("/encode", data=pack_images(files)[:-3], content_type=IMAGES_TYPE)
    assert torn.status_code == 400 and torn.get_json()["error"]["code"] == "malformed_body"


def test_the_client_speaks_binary_to_the_encoder(encoder_app):
    server = make_server("127.0.0.1", 0, encoder_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = EncoderClient([f"http://127.0.0.1:{server.server_port}"], 30)
        model, results = client.encode([("a.jpg", jpeg_bytes(3)), ("b.jpg", b"junk")])
    finally:
        server.shutdown()
    assert model.arch == "efficientnet_lite0" and results[0].vector.shape == (model.dim,)
    assert abs(float(results[0].vector @ results[0].vector) - 1) < 1e-4
    assert results[1].error_code == "invalid_image"


class JsonOnlyHandler(JsonHandler):
    """An encoder from before the binary wire: it answers JSON whatever ``Accept`` says."""

    def do_POST(self):
        self.read_body()
        self.send_json(
            {
                "model": MODEL.to_dict(),
                "results": [EncodedImage(np.ones(4, np.float32) / 2, 3, 4).to_dict()],
            }
        )


def test_the_client_reads_a_json_answer_too():
    with serving(JsonOnlyHandler) as url:
        model, [result] = EncoderClient([url], 5).encode([("a.jpg", b"x")])
    assert model == MODEL and result.vector.tolist() == [0.5] * 4
