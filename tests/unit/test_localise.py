"""Dogs found in a photo (encoder.localise) and why two photos match (encoder.explain)."""

import io
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from encoder.app import create_app
from encoder.config import EncoderSettings
from encoder.explain import explain
from encoder.localise import CamLocaliser, LocaliseSettings, boxes_from_map
from encoder.spatial import spatial_net
from scripts.bench.localise import holdout, iou, match, train_photos
from scripts.bench.pointing import inside
from services.encoder_wire import EncodedImage, FoundDog
from services.imaging import widen
from services.wire import pack_vectors, unpack_vectors
from tests.support.fakes import MODEL
from tests.support.synthetic import jpeg_bytes


@pytest.fixture(scope="module")
def lite_app():
    app = create_app(EncoderSettings(arch="efficientnet_lite0", max_images_per_request=4))
    yield app
    app.extensions["encoding"].stop()


def blob(shape, centre, spread) -> np.ndarray:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * spread**2))


def test_two_separate_dogs_make_two_boxes_where_they_are():
    heat = np.maximum(blob((12, 16), (6, 3), 1.5), blob((12, 16), (6, 12), 1.5))
    dogs = boxes_from_map(heat, LocaliseSettings(margin=0))
    assert len(dogs) == 2
    left, right = sorted(dogs, key=lambda d: d.box[0])
    assert left.box[2] < 0.5 < right.box[0]
    assert all(0.9 < d.score <= 1 for d in dogs)


def test_touching_dogs_with_two_peaks_are_split_and_one_peak_is_not():
    two = np.maximum(blob((12, 16), (6, 5), 2.0), blob((12, 16), (6, 11), 2.0))
    settings = LocaliseSettings(threshold=0.3, seed=0.9, margin=0, min_area=0.005)
    assert len(boxes_from_map(two, settings)) == 2
    assert len(boxes_from_map(two, replace(settings, seed=1.0))) == 1
    assert len(boxes_from_map(blob((12, 16), (6, 8), 3.0), settings)) == 1


def test_a_weak_region_is_no_dog():
    assert boxes_from_map(0.5 * blob((12, 16), (6, 8), 2.0), LocaliseSettings()) == []


def test_widen_stays_inside_the_photo():
    assert widen((0.0, 0.1, 0.5, 0.9), 0.1) == pytest.approx((0.0, 0.02, 0.55, 0.98))


def test_matching_counts_each_true_dog_once():
    truth = [(0.0, 0.0, 0.5, 0.5), (0.5, 0.5, 1.0, 1.0)]
    found = [(0.0, 0.0, 0.5, 0.5), (0.02, 0.0, 0.5, 0.5), (0.2, 0.2, 0.3, 0.3)]
    assert iou(truth[0], truth[0]) == 1 and iou(truth[0], truth[1]) == 0
    assert match(found, truth) == (1, 2)


def test_found_dogs_travel_on_the_wire_and_stay_absent_when_not_localised():
    image = EncodedImage(
        vector=np.ones(3, dtype=np.float32), dogs=[FoundDog((0, 0.1, 0.5, 1), 0.9)]
    )
    again = EncodedImage.from_dict(image.to_dict())
    assert again.dogs == [FoundDog((0.0, 0.1, 0.5, 1.0), 0.9)]
    plain = EncodedImage(vector=np.ones(3, dtype=np.float32))
    assert "dogs" not in plain.to_dict() and EncodedImage.from_dict(plain.to_dict()).dogs is None
    binary = replace(MODEL, dim=3)  # the search API's wire carries them too
    _, (found, none), _ = unpack_vectors(pack_vectors(binary, [image, plain], {}))
    assert found.dogs == again.dogs and none.dogs is None


def test_the_feature_map_averages_to_the_pooled_look(lite_app):
    encoder = lite_app.extensions["encoding"].encoder
    batch = torch.randn(1, 3, 224, 224)
    features = spatial_net(encoder).features(batch)
    with torch.inference_mode():
        pooled = encoder.net.backbone(batch)
    torch.testing.assert_close(features.mean(dim=(2, 3)), pooled, atol=1e-4, rtol=1e-4)


def post(client, path: str, files: dict[str, bytes], query: str = ""):
    data = {name: (io.BytesIO(body), f"{name}.jpg") for name, body in files.items()}
    return client.post(path + query, data=data, content_type="multipart/form-data")


def test_encode_answers_the_dogs_found_when_asked_and_info_names_the_localiser(lite_app):
    client = lite_app.test_client()
    assert client.get("/info").get_json()["localiser"] == "cam"
    plain = post(client, "/encode", {"image": jpeg_bytes(3)}).get_json()["results"][0]
    assert "dogs" not in plain  # localising costs ~3.2x: only when a request asks
    form = {"image": (io.BytesIO(jpeg_bytes(3)), "a.jpg"), "dogs": "1"}
    as_form = client.post("/encode", data=form, content_type="multipart/form-data").get_json()
    assert isinstance(as_form["results"][0]["dogs"], list)
    refused = post(client, "/encode", {"image": jpeg_bytes(3)}, "?dogs=maybe")
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "bad_dogs"
    result = post(client, "/encode", {"image": jpeg_bytes(3)}, "?dogs=1").get_json()["results"][0]
    assert isinstance(result["dogs"], list)
    for dog in result["dogs"]:
        left, top, right, bottom = dog["box"]
        assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1 and 0 <= dog["score"] <= 1


def test_explain_answers_two_heat_maps_and_refuses_one_image(lite_app):
    client = lite_app.test_client()
    answer = post(client, "/explain", {"first": jpeg_bytes(1), "second": jpeg_bytes(2)})
    assert answer.status_code == 200
    body = answer.get_json()
    assert -1 <= body["similarity"] <= 1 and len(body["heat"]) == 2
    for heat in body["heat"]:
        grid = np.asarray(heat["grid"])
        assert grid.shape == (heat["rows"], heat["cols"]) and grid.max() == pytest.approx(1)
        assert 0 <= heat["peak"][0] <= 1 and 0 <= heat["peak"][1] <= 1
    refused = post(client, "/explain", {"first": jpeg_bytes(1)})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "two_images"
    broken = post(client, "/explain", {"first": b"not an image", "second": jpeg_bytes(2)})
    assert 400 <= broken.status_code < 500


def test_localisation_off_leaves_dogs_out():
    app = create_app(EncoderSettings(arch="efficientnet_lite0", localise="off", max_batch=2))
    try:
        client = app.test_client()
        assert client.get("/info").get_json()["localiser"] == "off"
        answer = post(client, "/encode", {"image": jpeg_bytes(3)}, "?dogs=1")
        assert "dogs" not in answer.get_json()["results"][0]
    finally:
        app.extensions["encoding"].stop()


def test_real_dogs_are_found_and_the_heat_lies_on_them(lite_app, stanford_sample):
    photos = [p for p in train_photos(stanford_sample, 0) if len(p[1]) == 1][:8]
    spatial = lite_app.extensions["spatial"]
    localiser = CamLocaliser(spatial)
    found = sum(
        match([d.box for d in localiser(Image.open(f.path))], boxes)[0] for f, boxes in photos
    )
    assert found >= 6  # 0.83 over all 574 one-dog train photos (README)
    hits = 0
    for (a, a_boxes), (b, _) in zip(photos[::2], photos[1::2], strict=True):
        x, y = explain(spatial, Image.open(a.path), Image.open(b.path))["heat"][0]["peak"]
        hits += inside((x, y), a_boxes)
    assert hits >= 3


def test_holdout_chooses_on_one_half_and_scores_the_other():
    """Every photo is scored once, on one side of the split; a dog found by the defaults is
    counted as found."""
    heats, truths, names = [], [], []
    for n in range(12):
        centre = (6, 3 + n % 10)
        heats.append(blob((12, 16), centre, 1.5))
        truths.append(
            [(max(0.0, (centre[1] - 3) / 16), 0.25, min(1.0, (centre[1] + 4) / 16), 0.75)]
        )
        names.append(f"n0000-breed/photo_{n}.jpg")
    report = holdout(heats, truths, names, LocaliseSettings(margin=0))
    halves = report["defaults"]["tuning_half"], report["defaults"]["held_out_half"]
    assert sum(half["one_dog"]["photos"] for half in halves) == 12
    assert all(half["one_dog"]["photos"] > 0 for half in halves)
    assert all(half["one_dog"]["recall"] > 0 for half in halves)
    assert report["chosen"]["held_out_half"]["one_dog"]["photos"] == halves[1]["one_dog"]["photos"]
