"""The tensor path on CUDA (nvJPEG, torch ops on the GPU) and its fallbacks to Pillow.

Skipped without a GPU (CI has none); run on a GPU machine with ``pytest -m gpu``.
"""

from __future__ import annotations

import threading

import pytest
import torch
from PIL import Image

from encoder.app import create_app
from encoder.backbones import get_backbone
from encoder.config import EncoderSettings
from encoder.model import RESIZE
from encoder.preprocess import TensorPreprocessor
from services.errors import ApiError
from services.imaging import decode_image
from services.wire import IMAGES_TYPE, VECTORS_TYPE, pack_images, unpack_vectors
from tests.support.synthetic import image_bytes, make_image

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

BACKBONE = get_backbone("resnet152")
TRANSFORM = BACKBONE.transform()


def pillow_path(data: bytes):
    decoded = decode_image(data, max_pixels=10_000_000, draft_size=(RESIZE, RESIZE))
    return TRANSFORM(decoded.image), decoded.width, decoded.height


def on(device: str) -> TensorPreprocessor:
    return TensorPreprocessor(
        BACKBONE, torch.device(device), pillow_path, max_bytes=2**24, max_pixels=10_000_000
    )


def test_nvjpeg_matches_the_cpu_path_and_odd_files_fall_back():
    photo = make_image(4, (500, 375))
    exif = Image.Exif()
    exif[0x0112] = 6
    files = [
        image_bytes(photo),
        image_bytes(photo, "JPEG", exif=exif.tobytes()),
        image_bytes(photo.convert("CMYK")),
        image_bytes(photo, "JPEG", progressive=True),
        image_bytes(photo, "PNG"),
        image_bytes(photo)[:2000],
        b"not an image",
        image_bytes(make_image(5, (1600, 1200))),  # no DCT scaling on CUDA: decoded whole
    ]
    on_gpu, on_cpu = on("cuda")(files), on("cpu")(files)
    for position, (gpu, cpu) in enumerate(zip(on_gpu, on_cpu, strict=True)):
        if isinstance(cpu, ApiError):
            assert isinstance(gpu, ApiError) and gpu.code == cpu.code, position
            continue
        assert gpu[0].device.type == "cuda" and gpu[1:] == cpu[1:], position
        # nvJPEG's IDCT and upsampling differ from libjpeg-turbo's by a level here and there.
        cosine = torch.nn.functional.cosine_similarity(gpu[0].cpu().flatten(), cpu[0].flatten(), 0)
        assert cosine > 0.999, (position, float(cosine))


def test_threads_decode_on_their_own_streams_concurrently():
    preprocessor = on("cuda")
    files = [image_bytes(make_image(seed, (640, 480))) for seed in range(16)]
    expected = [outcome[0].cpu() for outcome in preprocessor(files)]
    results: dict[int, list] = {}

    def work(number: int) -> None:
        results[number] = [outcome[0].cpu() for outcome in preprocessor(files)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for outcome in results.values():
        assert all(torch.equal(a, b) for a, b in zip(outcome, expected, strict=True))


def test_the_service_on_cuda_decodes_with_nvjpeg_and_answers_binary():
    app = create_app(EncoderSettings(arch="efficientnet_lite0", device="cuda"))
    try:
        client = app.test_client()
        info = client.get("/info").get_json()
        assert "cuda" in info["decode"]
        files = [image_bytes(make_image(n, (500, 375))) for n in range(8)] + [b"junk"]
        answer = client.post(
            "/encode",
            data=pack_images(files),
            headers={"Content-Type": IMAGES_TYPE, "Accept": VECTORS_TYPE},
        )
        assert answer.status_code == 200
        _, results, _ = unpack_vectors(answer.data)
        assert all(result.ok for result in results[:8]) and results[8].error_code
        assert all(abs(float(r.vector @ r.vector) - 1) < 1e-3 for r in results[:8])
    finally:
        app.extensions["encoding"].stop()
