"""ONNX Runtime gives torch's vectors, breed probabilities and dog scores, and runs only where
it should."""

from __future__ import annotations

import io
import logging

import pytest
import torch

from encoder.app import create_app
from encoder.checkpoint import save_checkpoint
from encoder.config import EncoderSettings
from encoder.model import build_backbone, load_encoder, tuned_net
from encoder.onnx_backend import BackendUnavailable, OnnxEmbedder, choose_embed, wants_onnx
from tests.support.synthetic import jpeg_bytes, make_image

CPU, GPU = torch.device("cpu"), torch.device("cuda")


def batch_of(encoder, count: int = 3) -> torch.Tensor:
    return torch.stack([encoder.transform(make_image(seed)) for seed in range(count)])


@pytest.fixture(scope="module")
def with_head(tmp_path_factory):
    """A lite0 checkpoint with a 3-way head, so the export carries logits too."""
    torch.manual_seed(0)
    net = tuned_net(
        "efficientnet_lite0", build_backbone("efficientnet_lite0", pretrained=False), 2, 3
    )
    path = tmp_path_factory.mktemp("ckpt") / "head.pt"
    save_checkpoint(path, net, "efficientnet_lite0", class_names=["a", "b", "c"], train_stages=2)
    return load_encoder(checkpoint=path, device="cpu")


def same(a, b) -> bool:
    pairs = zip(vars(a).values(), vars(b).values(), strict=True)
    return all(torch.allclose(x, y, atol=1e-5) for x, y in pairs)


def test_vectors_probabilities_and_dog_scores_match_torch(with_head, tmp_path):
    images = batch_of(with_head)
    by_torch = with_head.embed(images)
    by_onnx = OnnxEmbedder(with_head, tmp_path).embed(images)
    assert by_onnx.vectors.shape == by_torch.vectors.shape == (3, 1280 + 3)
    assert by_onnx.breed_probabilities.shape == (3, 3) and by_onnx.dog_scores.shape == (3,)
    assert same(by_onnx, by_torch)


def test_resnet152_without_a_head_matches_torch(tmp_path):
    encoder = load_encoder("resnet152", "random", device="cpu")
    images = batch_of(encoder, 2)
    by_onnx = OnnxEmbedder(encoder, tmp_path).embed(images)
    assert by_onnx.breed_probabilities.shape == (2, 120)  # the ImageNet classifier's breeds
    assert same(by_onnx, encoder.embed(images))


def test_the_export_is_cached_by_fingerprint(with_head, tmp_path):
    first = OnnxEmbedder(with_head, tmp_path)
    written = first.path.stat().st_mtime_ns
    second = OnnxEmbedder(with_head, tmp_path)
    assert second.path == first.path and second.path.stat().st_mtime_ns == written
    assert with_head.info.fingerprint in first.path.name
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no leftovers


def test_auto_means_onnx_on_cpu_and_torch_on_a_gpu():
    assert wants_onnx("auto", CPU) and not wants_onnx("auto", GPU)
    assert wants_onnx("onnx", CPU) and not wants_onnx("torch", CPU)
    with pytest.raises(BackendUnavailable, match="CPU only"):
        wants_onnx("onnx", GPU)
    with pytest.raises(ValueError, match="ENCODER_BACKEND"):
        wants_onnx("tensorrt", CPU)


def test_auto_falls_back_to_torch_loudly_and_onnx_refuses_to(with_head, tmp_path, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")  # the cache folder cannot be created
    with caplog.at_level(logging.WARNING):
        embed, backend = choose_embed(with_head, "auto", blocked, threads=1)
    assert backend == "torch" and embed == with_head.embed
    assert "ONNX Runtime unavailable" in caplog.text
    with pytest.raises(BackendUnavailable, match="ENCODER_BACKEND=onnx cannot start"):
        choose_embed(with_head, "onnx", blocked, threads=1)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_the_service_reports_its_backend_and_encodes(backend, tmp_path):
    settings = EncoderSettings(
        arch="efficientnet_lite0", backend=backend, onnx_cache_dir=str(tmp_path)
    )
    app = create_app(settings)
    try:
        client = app.test_client()
        info = client.get("/info").get_json()
        assert info["backend"].startswith("onnxruntime" if backend == "onnx" else "torch")
        data = {"image": [(io.BytesIO(jpeg_bytes(1)), "1.jpg")]}
        response = client.post("/encode", data=data, content_type="multipart/form-data")
        assert response.status_code == 200
    finally:
        app.extensions["encoding"].stop()
