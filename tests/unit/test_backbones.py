"""One class per backbone: each is found by name, cuts where it says, and a new one is a single
module (the test-only ``tiny_test``, registered from tests/support) that the whole encoder runs;
the vectors are the recipe over the raw network, byte for byte; calibration travels with the
model."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from encoder.app import create_app
from encoder.backbones import get_backbone, names
from encoder.checkpoint import save_checkpoint
from encoder.config import EncoderSettings
from encoder.model import build_backbone, load_encoder, tuned_net
from encoder.onnx_backend import OnnxEmbedder
from encoder.understanding import understand
from services.encoder_wire import DEFAULT_CALIBRATION, Calibration, unpack_vector
from tests.support import tiny_backbone
from tests.support.synthetic import jpeg_bytes, make_image

TINY = tiny_backbone.Tiny.name


def batch_for(encoder, count: int = 3) -> torch.Tensor:
    return torch.stack([encoder.transform(make_image(seed)) for seed in range(count)])


def test_backbones_are_found_by_name_and_an_unknown_one_is_named():
    assert {"resnet152", "efficientnet_lite0", TINY} <= set(names())
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet'.*efficientnet_lite0"):
        get_backbone("resnet")


@pytest.mark.parametrize("arch", ["efficientnet_lite0", "resnet152", TINY])
def test_split_and_feature_map_give_the_pooled_features(arch):
    backbone = get_backbone(arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net, classifier = build_backbone(arch, pretrained=False)
    net.eval()
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        pooled = net(images)
        to_map, pool = backbone.feature_map(net)
        feature_map = to_map(images)
        for stages in range(1, len(backbone.stages) + 1):
            trunk, tail = backbone.split(net, stages)
            torch.testing.assert_close(tail(trunk(images)), pooled)
            assert tail[:-1](trunk(images)).shape == feature_map.shape  # the pooling is last
    assert pooled.shape == (2, backbone.dim)
    assert feature_map.ndim == 4 and feature_map.shape[1] == backbone.dim
    torch.testing.assert_close(pool(feature_map), pooled)
    assert (classifier is not None) == backbone.imagenet_classifier
    if classifier is not None:  # what class activation maps weight the feature map with
        assert classifier.weight.shape == (1000, backbone.dim)


def test_offline_vectors_are_the_recipe_over_timms_own_network_byte_for_byte():
    """The seam adds nothing: timm's network with the packaged weights, through the recipe,
    gives exactly the encoder's vectors; and the fingerprint is the one collections store."""
    import timm

    from encoder.backbones.efficientnet_lite0 import packaged_state_dict

    encoder = load_encoder("efficientnet_lite0", device="cpu")
    reference = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    reference.load_state_dict(packaged_state_dict(reference.state_dict()))
    reference.eval().to(memory_format=torch.channels_last)
    images = batch_for(encoder).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        features = reference.forward_head(reference.forward_features(images), pre_logits=True)
        expected = understand(features, reference.get_classifier()(features))
    got = encoder.embed(images)
    assert torch.equal(got.vectors, expected.vectors)
    assert torch.equal(got.breed_probabilities, expected.breed_probabilities)
    assert torch.equal(got.dog_scores, expected.dog_scores)
    # Changing it means every collection built with the offline backbone must be re-indexed.
    assert encoder.info.fingerprint == "60b069825e4bcd65"


def test_a_backbone_without_an_imagenet_classifier_runs_the_whole_encoder(tmp_path):
    encoder = load_encoder(TINY, "random", device="cpu")
    assert encoder.info.dim == 8 and encoder.class_names == []
    assert encoder.info.match_strong == 0.99 and encoder.info.copy_from == 0.995
    images = batch_for(encoder)
    understood = encoder.embed(images)
    assert understood.vectors.shape == (3, 8) and understood.dog_scores is None
    assert torch.allclose(understood.vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    assert understood.breed_probabilities.shape == (3, 0)
    by_onnx = OnnxEmbedder(encoder, tmp_path).embed(images)
    torch.testing.assert_close(by_onnx.vectors, understood.vectors, atol=1e-5, rtol=0)
    assert by_onnx.dog_scores is None

    app = create_app(EncoderSettings(backend="torch"), encoder=encoder)
    try:
        client = app.test_client()
        data = {"image": [(io.BytesIO(jpeg_bytes(seed)), f"{seed}.jpg") for seed in (1, 2)]}
        body = client.post("/encode", data=data, content_type="multipart/form-data").get_json()
        info = client.get("/info").get_json()
    finally:
        app.extensions["encoding"].stop()
    assert [unpack_vector(r["vector"]).shape for r in body["results"]] == [(8,), (8,)]
    assert all("dog_score" not in r and "predictions" not in r for r in body["results"])
    assert info["model"]["arch"] == TINY
    assert info["calibration"] == tiny_backbone.Tiny.calibration.to_dict()


def test_fine_tuning_needs_an_imagenet_classifier_and_says_so():
    with pytest.raises(ValueError, match="tiny_test has none"):
        tuned_net(TINY, build_backbone(TINY, pretrained=False), 1, 3)


@pytest.fixture(scope="module")
def small_tuned():
    torch.manual_seed(0)
    built = build_backbone("efficientnet_lite0", pretrained=False)
    return tuned_net("efficientnet_lite0", built, 2, 3)


def test_a_checkpoint_carries_its_calibration_into_info(small_tuned, tmp_path):
    own = Calibration(dog_weights=(1.0, 0.0, 0.0, 0.0, 0.0), dog_bias=0.0, match_strong=0.97)
    path = tmp_path / "own.pt"
    save_checkpoint(
        path, small_tuned, "efficientnet_lite0", own, class_names=list("abc"), train_stages=2
    )
    encoder = load_encoder(checkpoint=path, device="cpu")
    assert encoder.calibration == own and encoder.info.match_strong == 0.97
    default = tmp_path / "default.pt"
    save_checkpoint(
        default, small_tuned, "efficientnet_lite0", class_names=list("abc"), train_stages=2
    )
    plain = load_encoder(checkpoint=default, device="cpu")
    assert plain.calibration == DEFAULT_CALIBRATION
    assert plain.info.fingerprint != encoder.info.fingerprint  # its dog score differs
    images = batch_for(plain)
    assert not torch.allclose(plain.embed(images).dog_scores, encoder.embed(images).dog_scores)


def test_a_checkpoint_from_before_calibration_loads_with_the_backbones(small_tuned, tmp_path):
    path = tmp_path / "old.pt"
    fingerprint = save_checkpoint(
        path, small_tuned, "efficientnet_lite0", class_names=list("abc"), train_stages=2
    )
    payload = torch.load(path, weights_only=True)
    del payload["calibration"]  # as format 3 checkpoints were written before
    torch.save(payload, path)
    encoder = load_encoder(checkpoint=path, device="cpu")
    assert encoder.calibration == get_backbone("efficientnet_lite0").calibration
    assert encoder.info.fingerprint == fingerprint
    assert np.isclose(encoder.info.dog_threshold, DEFAULT_CALIBRATION.dog_threshold)


def test_a_registered_backbone_is_a_valid_encoder_arch():
    assert EncoderSettings(arch=TINY).arch == TINY  # no list of names to extend anywhere
    with pytest.raises(ValueError, match=r"auto or one of .*tiny_test"):
        EncoderSettings(arch="tiny")
