"""The encoder: model loading, vectors, batching consistency, checkpoints, HTTP contract."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from encoder.app import create_app
from encoder.backbones import get_backbone
from encoder.checkpoint import WeightsUnavailable, save_checkpoint
from encoder.config import EncoderSettings
from encoder.model import build_backbone, load_encoder, tuned_net
from services.encoder_wire import unpack_vector
from tests.support.synthetic import image_bytes, jpeg_bytes, make_image


@pytest.fixture(scope="module")
def lite_app():
    app = create_app(EncoderSettings(arch="efficientnet_lite0", max_images_per_request=8))
    yield app
    app.extensions["encoding"].stop()


def encode(client, *files: bytes) -> dict:
    data = {"image": [(io.BytesIO(f), f"{i}.jpg") for i, f in enumerate(files)]}
    response = client.post("/encode", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def vectors(body: dict) -> list[np.ndarray]:
    return [unpack_vector(r["vector"]) for r in body["results"]]


def test_preprocessing_shape_and_normalisation():
    mean_colour = Image.new("RGB", (500, 375), (124, 116, 104))
    tensor = get_backbone("resnet152").transform()(mean_colour)
    assert tensor.shape == (3, 224, 224)
    assert tensor.abs().max() < 0.01  # the ImageNet mean colour maps to ~0


def test_random_resnet152_is_deterministic_and_loud(caplog):
    first = load_encoder("resnet152", "random")
    second = load_encoder("resnet152", "random")
    assert first.info.dim == 2048 + 120 and first.info.weights == "random"
    assert first.info.fingerprint == second.info.fingerprint
    assert "RANDOM WEIGHTS" in caplog.text
    batch = torch.stack([first.transform(make_image(seed)) for seed in range(2)])
    a, b = first.embed(batch), second.embed(batch)
    assert a.vectors.shape == (2, 2048 + 120) and a.breed_probabilities.shape == (2, 120)
    assert torch.allclose(a.vectors.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(a.breed_probabilities.sum(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(a.vectors, b.vectors, atol=1e-6)


def test_offline_backbone_info(lite_app):
    info = lite_app.test_client().get("/info").get_json()
    assert info["model"]["arch"] == "efficientnet_lite0"
    assert info["model"]["dim"] == 1280 + 120  # pooled features and the 120 breeds
    assert info["model"]["offline_backbone"] is True
    assert info["model"]["weights"] == "imagenet"


def test_vector_is_the_same_alone_or_inside_a_batch(lite_app):
    client = lite_app.test_client()
    alone = vectors(encode(client, jpeg_bytes(7)))[0]
    in_batch = vectors(encode(client, *(jpeg_bytes(seed) for seed in (1, 2, 7, 3))))[2]
    assert alone.shape == (1400,)
    assert abs(np.linalg.norm(alone) - 1) < 1e-5
    np.testing.assert_allclose(alone, in_batch, atol=1e-5)


def test_exif_rotated_and_non_rgb_give_the_upright_rgb_vector(lite_app):
    client = lite_app.test_client()
    upright = make_image(11)
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera would store
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    grey = upright.convert("L")
    body = encode(
        client,
        image_bytes(upright, "PNG"),
        image_bytes(stored_sideways, "PNG", exif=exif.tobytes()),
        image_bytes(grey, "PNG"),
        image_bytes(grey.convert("RGB"), "PNG"),
        image_bytes(upright.convert("RGBA"), "PNG"),
    )
    upright_v, rotated_v, grey_v, grey_rgb_v, rgba_v = vectors(body)
    np.testing.assert_allclose(upright_v, rotated_v, atol=1e-5)
    np.testing.assert_allclose(grey_v, grey_rgb_v, atol=1e-5)
    np.testing.assert_allclose(upright_v, rgba_v, atol=1e-5)


def test_a_bad_image_fails_alone(lite_app):
    body = encode(lite_app.test_client(), jpeg_bytes(1), b"not an image", jpeg_bytes(2))
    ok_first, bad, ok_last = body["results"]
    assert "vector" in ok_first and "vector" in ok_last
    assert bad["error"]["code"] == "invalid_image"
    assert body["model"]["dim"] == 1400


def test_http_errors_are_json(lite_app):
    client = lite_app.test_client()
    no_file = client.post("/encode", data={}, content_type="multipart/form-data")
    assert no_file.status_code == 400 and no_file.get_json()["error"]["code"] == "no_image"
    too_many = client.post(
        "/encode",
        data={"image": [(io.BytesIO(jpeg_bytes(1)), "x.jpg")] * 9},
        content_type="multipart/form-data",
    )
    assert too_many.status_code == 413 and too_many.get_json()["error"]["code"] == "too_many_images"
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert client.get("/readyz").get_json()["status"] == "ready"


def test_checkpoint_with_head_round_trips_into_the_service(tmp_path):
    torch.manual_seed(0)
    net = tuned_net(
        "efficientnet_lite0", build_backbone("efficientnet_lite0", pretrained=False), 2, 3
    )
    names = ["Chihuahua", "Japanese spaniel", "golden retriever"]
    path = tmp_path / "model.pt"
    fingerprint = save_checkpoint(
        path, net, "efficientnet_lite0", class_names=names, metrics={}, train_stages=2
    )
    app = create_app(EncoderSettings(checkpoint=str(path)))
    try:
        body = encode(app.test_client(), jpeg_bytes(5))
    finally:
        app.extensions["encoding"].stop()
    assert body["model"]["weights"] == "checkpoint" and body["model"]["has_head"] is True
    assert body["model"]["fingerprint"] == fingerprint
    predictions = body["results"][0]["predictions"]
    assert len(predictions) == 3
    assert {p["breed"] for p in predictions} == set(names)
    assert abs(sum(p["probability"] for p in predictions) - 1) < 1e-3


def test_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        load_encoder(checkpoint=tmp_path / "missing.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(WeightsUnavailable, match="not a dogsearch-checkpoint/3 checkpoint"):
        load_encoder(checkpoint=tmp_path / "other.pt")


SHARED = __import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.realdata
def test_a_dog_is_told_from_a_cat_and_its_breed_is_guessed(lite_app):
    golden = SHARED / "stanford-dogs-sample" / "Images" / "n02099601-golden_retriever"
    cats = SHARED / "distractors" / "cats"
    if not golden.is_dir() or not cats.is_dir():
        pytest.skip("../shared/data is absent")
    photos = sorted(golden.glob("*.jpg"))[:3] + sorted(cats.iterdir())[:3]
    body = encode(lite_app.test_client(), *(p.read_bytes() for p in photos))
    dogs, others = body["results"][:3], body["results"][3:]
    threshold = body["model"]["dog_threshold"]
    assert all(r["dog_score"] >= threshold for r in dogs), [r["dog_score"] for r in dogs]
    assert all(r["dog_score"] < threshold for r in others), [r["dog_score"] for r in others]
    assert [r["predictions"][0]["breed"] for r in dogs] == ["golden retriever"] * 3
