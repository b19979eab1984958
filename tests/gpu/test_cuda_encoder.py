"""The encoder's CUDA path (AMP, channels_last): same vectors as the CPU, served over the app.

Skipped without a GPU (CI has none); run on a GPU machine with ``pytest -m gpu``.
"""

import io

import pytest
import torch

from encoder.app import create_app
from encoder.config import EncoderSettings
from encoder.model import load_encoder
from services.encoder_wire import unpack_vector
from tests.support.synthetic import make_image

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_amp_on_gpu_matches_fp32_on_cpu():
    cpu = load_encoder("efficientnet_lite0", device="cpu")
    gpu = load_encoder("efficientnet_lite0", device="cuda")
    assert gpu.use_amp and gpu.info.fingerprint == cpu.info.fingerprint
    batch = torch.stack([cpu.transform(make_image(seed)) for seed in range(16)])
    on_cpu, _ = cpu.embed(batch)
    on_gpu, _ = gpu.embed(batch)
    cosine = (on_cpu * on_gpu).sum(dim=1)
    assert on_gpu.dtype == torch.float32 and cosine.min() > 0.999


def test_service_runs_on_cuda():
    app = create_app(EncoderSettings(arch="efficientnet_lite0", device="cuda"))
    try:
        client = app.test_client()
        info = client.get("/info").get_json()
        assert info["device"].startswith("cuda") and info["amp"] is True
        out = io.BytesIO()
        make_image(3).save(out, format="JPEG")
        body = client.post(
            "/encode",
            data={"image": (io.BytesIO(out.getvalue()), "a.jpg")},
            content_type="multipart/form-data",
        ).get_json()
        assert (
            abs(
                float(
                    unpack_vector(body["results"][0]["vector"]).dot(
                        unpack_vector(body["results"][0]["vector"])
                    )
                )
                - 1
            )
            < 1e-4
        )
    finally:
        app.extensions["encoding"].stop()
