"""Fine-tuning: train split only, only the tuned tail and head learn, the feature cache is
invalidated by what changes its contents, a tiny run learns, and the encoder serves the result."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from encoder.app import create_app
from encoder.checkpoint import load_checkpoint
from encoder.config import EncoderSettings
from encoder.model import build_backbone, split_backbone
from scripts.training import finetune
from scripts.training.feature_cache import cache_key, trunk_features
from services.dataset import BreedList, iter_image_files
from tests.support.synthetic import jpeg_bytes, write_split_lists

BREEDS = (
    "n02085620-Chihuahua",
    "n02085782-Japanese_spaniel",
    "n02099601-golden_retriever",
    "n02104029-kuvasz",
)
HUES = ((200, 40, 40), (40, 170, 60), (40, 60, 200), (220, 200, 40))


def coloured_dataset(root: Path, per_breed: int) -> Path:
    """Each breed its own colour under random shapes: learnable, but not what ImageNet's
    breed rows know, so the head starts near chance and must learn."""
    images = root / "Images"
    for b, folder in enumerate(BREEDS):
        (images / folder).mkdir(parents=True)
        for n in range(per_breed):
            rng = random.Random(b * 100 + n)
            image = Image.new("RGB", (256, 256), HUES[b])
            draw = ImageDraw.Draw(image)
            for _ in range(6):
                x, y = rng.randrange(200), rng.randrange(200)
                shade = tuple(rng.randrange(256) for _ in range(3))
                draw.rectangle((x, y, x + rng.randrange(10, 50), y + 40), fill=shade)
            image.save(images / folder / f"{folder[:9]}_{n + 1}.jpg", quality=90)
    return images


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    images = coloured_dataset(root, per_breed=12)
    return images, write_split_lists(images, root / "lists", train_per_breed=10)


def run(dataset, out: Path, *extra: str) -> dict:
    images, lists = dataset
    args = [str(images), "--lists", str(lists), "--arch", "efficientnet_lite0", "--workers", "0"]
    args += ["--views", "2", "--val-share", "0.3", "--out", str(out), "--no-progress", *extra]
    assert finetune.main(args) == 0
    return load_checkpoint(out)


def test_the_test_split_is_never_selected(dataset):
    images, lists = dataset
    args = finetune.parse_args([str(images), "--lists", str(lists), "--val-share", "0.3"])
    fit, val, _ = finetune.select_data(args)
    test = {line.split()[0] for line in (lists / "test_list.txt").read_text().splitlines()}
    chosen = [f.relative_path for f in fit + val]
    assert len(chosen) == 40 and not set(chosen) & test
    assert not {f.relative_path for f in fit} & {f.relative_path for f in val}
    assert {f.breed for f in val} == {f.breed for f in fit}  # every breed validates


def test_a_test_split_photo_stops_the_run(dataset, monkeypatch):
    images, lists = dataset
    every_file = list(iter_image_files(images))
    monkeypatch.setattr(finetune, "select_files", lambda *a, **k: every_file)
    args = finetune.parse_args([str(images), "--lists", str(lists)])
    with pytest.raises(finetune.TestSplitRefused, match="test-split"):
        finetune.select_data(args)


def test_the_cache_key_follows_the_trunk_the_recipe_and_the_photos(dataset):
    images, _ = dataset
    files = sorted(iter_image_files(images), key=lambda f: f.relative_path)
    backbone, _ = build_backbone("efficientnet_lite0", pretrained=False)
    trunk, _ = split_backbone("efficientnet_lite0", backbone, 2)
    key = cache_key("efficientnet_lite0", 2, trunk, files, 2)
    assert key == cache_key("efficientnet_lite0", 2, trunk, files, 2)
    assert key != cache_key("efficientnet_lite0", 2, trunk, files, 3)  # the view recipe
    assert key != cache_key("efficientnet_lite0", 2, trunk, files[1:], 2)
    with torch.no_grad():
        next(trunk.parameters()).add_(0.01)
    assert key != cache_key("efficientnet_lite0", 2, trunk, files, 2)  # the trunk's weights


def test_the_cache_is_computed_once_and_equals_the_trunk(dataset, tmp_path):
    images, _ = dataset
    files = sorted(iter_image_files(images), key=lambda f: f.relative_path)[:6]
    backbone, _ = build_backbone("efficientnet_lite0", pretrained=True)
    trunk, _ = split_backbone("efficientnet_lite0", backbone, 2)
    options = {"views": 2, "cache_dir": tmp_path, "workers": 0, "progress": False}
    built = trunk_features(trunk, "efficientnet_lite0", 2, files, [0] * 6, **options)
    again = trunk_features(trunk, "efficientnet_lite0", 2, files, [0] * 6, **options)
    assert built.features.shape == (6, 2, 192, 7, 7) and again.built_s == 0
    assert torch.equal(built.features, again.features)
    from encoder.backbones import get_backbone
    from services.imaging import decode_image

    image = decode_image(files[0].path.read_bytes(), draft_size=(256, 256)).image
    with torch.no_grad():
        direct = trunk.eval()(get_backbone("efficientnet_lite0").transform()(image)[None])
    assert torch.allclose(built.features[0, 0].float(), direct[0], atol=0.02, rtol=0.01)
    mirrored = built.features[0, 1].float()
    assert not torch.allclose(mirrored, direct[0], atol=0.02)  # view 1 is the mirror image


def test_a_tiny_fine_tune_learns_and_only_the_tuned_tail_and_head_change(dataset, tmp_path):
    out = tmp_path / "tiny.pt"
    options = ["--epochs", "8", "--batch-size", "8", "--lr", "3e-4", "--head-lr", "1e-2"]
    payload = run(dataset, out, *options, "--patience", "3")
    history = payload["history"]
    assert history[0]["epoch"] == 0  # before training: the ImageNet breed rows
    best = max(h["val_top1"] for h in history)
    assert best >= 0.6 > 1 / len(BREEDS) and best > history[0]["val_top1"] + 0.2, history
    before = build_backbone("efficientnet_lite0", pretrained=True)[0].state_dict()
    state = payload["state_dict"]
    tail_names = [n for n in state if n.startswith("imagenet_tail.")]
    assert tail_names and payload["train_stages"] == 2
    net = finetune.tuned_net(
        "efficientnet_lite0", build_backbone("efficientnet_lite0", pretrained=True), 2, 120
    )
    reference = net.state_dict()
    changed = {n for n in state if n in reference and not torch.equal(state[n], reference[n])}
    assert changed and all(n.startswith(("tuned_tail.", "head.", "mix", "look")) for n in changed)
    assert any(n.startswith("tuned_tail.") for n in changed)
    assert len(before) > 0 and payload["class_names"][:120] == list(BreedList.load().names)
    validation = payload["metrics"]["validation"]
    assert set(validation) == {"imagenet", "fine_tuned"}
    assert len(payload["recipes"]) == 10 and payload["metrics"]["mode"] == "cached"


def test_the_checkpoint_serves_breed_predictions(dataset, tmp_path, capsys):
    path = tmp_path / "serve.pt"
    payload = run(dataset, path, "--epochs", "1")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["fingerprint"] == payload["fingerprint"]
    app = create_app(EncoderSettings(checkpoint=str(path), top_k_predictions=5))
    try:
        data = {"image": [(io.BytesIO(jpeg_bytes(3)), "dog.jpg")]}
        body = app.test_client().post("/encode", data=data).get_json()
    finally:
        app.extensions["encoding"].stop()
    assert body["model"]["has_head"] is True
    assert body["model"]["fingerprint"] == payload["fingerprint"]
    assert body["model"]["dim"] == 1280 + len(payload["class_names"])
    predictions = body["results"][0]["predictions"]
    assert len(predictions) == 5
    assert all(p["breed"] == payload["class_names"][p["breed_id"]] for p in predictions)
    probabilities = [p["probability"] for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def test_end_to_end_mode_trains_the_same_layers(dataset, tmp_path):
    payload = run(dataset, tmp_path / "e2e.pt", "--mode", "end-to-end", "--epochs", "1")
    payload2 = run(dataset, tmp_path / "e2e2.pt", "--mode", "end-to-end", "--epochs", "2")
    assert payload["metrics"]["mode"] == "end-to-end" and len(payload2["history"]) == 2
    reference = finetune.tuned_net(
        "efficientnet_lite0", build_backbone("efficientnet_lite0", pretrained=True), 2, 120
    ).state_dict()
    state = payload["state_dict"]
    changed = {n for n in state if not torch.equal(state[n], reference[n])}
    assert any(n.startswith("tuned_tail.") for n in changed)
    assert all(n.startswith(("tuned_tail.", "head.", "mix", "look")) for n in changed), changed


def test_resnet152_takes_the_same_path_with_layer4_learning(dataset, tmp_path):
    images, lists = dataset
    out = tmp_path / "resnet.pt"
    args = [str(images), "--lists", str(lists), "--arch", "resnet152", "--weights", "random"]
    args += ["--per-breed", "3", "--views", "1", "--epochs", "1", "--workers", "0"]
    assert finetune.main([*args, "--out", str(out), "--no-progress"]) == 0
    payload = load_checkpoint(out)
    assert payload["arch"] == "resnet152" and payload["train_stages"] == 1
    assert any(n.startswith("tuned_tail.0.2.") for n in payload["state_dict"])  # layer4's


def test_bad_stage_count_is_refused(dataset, tmp_path):
    with pytest.raises(SystemExit, match="train-stages"):
        run(dataset, tmp_path / "x.pt", "--train-stages", "9")


def test_a_diverging_run_stops_with_a_clear_message_and_saves_nothing(dataset, tmp_path, capsys):
    images, lists = dataset
    out = tmp_path / "diverged.pt"
    args = [str(images), "--lists", str(lists), "--arch", "efficientnet_lite0", "--workers", "0"]
    args += ["--views", "1", "--epochs", "2", "--out", str(out), "--no-progress"]
    args += ["--lr", "1e30", "--head-lr", "1e30"]
    assert finetune.main(args) == 3
    error = capsys.readouterr().err
    assert "diverged" in error and "--lr" in error
    assert not out.exists()


def test_whole_photos_join_the_recipe_choice_without_the_excluded(dataset, tmp_path):
    images, _ = dataset
    excluded = tmp_path / "dev"
    (excluded / "x").mkdir(parents=True)
    (excluded / "x" / f"{BREEDS[0][:9]}_1.jpg").write_bytes(b"a dev photo's name")
    payload = run(
        dataset,
        tmp_path / "w.pt",
        "--epochs",
        "1",
        "--whole-val",
        str(images),
        "--exclude-names",
        str(excluded),
    )
    rows = payload["recipes"]
    assert all(len(row["sets"]) == 2 for row in rows)
    for row in rows:  # the choice is made on the mean of both sets
        mean = sum(s["map_at_10"] for s in row["sets"]) / 2
        assert abs(row["map_at_10"] - mean) < 1e-3


def test_training_does_not_depend_on_the_callers_grad_mode(dataset, tmp_path):
    """evaluate turned grad off for the whole process once; a later fine-tune then failed."""
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    try:
        payload = run(dataset, tmp_path / "nograd.pt", "--epochs", "1")
    finally:
        torch.set_grad_enabled(previous)
    assert payload["history"][-1]["epoch"] == 1
