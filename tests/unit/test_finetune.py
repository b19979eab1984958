"""Fine-tuning: only the chosen stages learn, and the checkpoint serves breed predictions."""

from __future__ import annotations

import io
import json

import pytest
import torch

from encoder.app import create_app
from encoder.checkpoint import load_checkpoint
from encoder.config import EncoderSettings
from scripts.training import finetune
from services.dataset import BreedList
from tests.support.synthetic import jpeg_bytes, make_dataset, write_split_lists


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    images = make_dataset(root, per_breed=6)
    return images, write_split_lists(images, root / "lists", train_per_breed=4)


def run(dataset, out, *extra: str) -> dict:
    images, lists = dataset
    argv = [
        str(images),
        "--lists",
        str(lists),
        "--weights",
        "random",
        "--batch-size",
        "4",
        "--workers",
        "0",
        "--max-steps",
        "2",
        "--out",
        str(out),
        *extra,
    ]
    assert finetune.main(argv) == 0
    return load_checkpoint(out)


def backbone_state(payload: dict) -> dict[str, torch.Tensor]:
    return {
        name.removeprefix("backbone."): tensor
        for name, tensor in payload["state_dict"].items()
        if name.startswith("backbone.")
    }


def test_only_layer4_and_the_head_change_by_default(dataset, tmp_path, capsys):
    payload = run(dataset, tmp_path / "resnet.pt", "--epochs", "1")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["history"][0]["epoch"] == 1
    before = finetune.initial_backbone("resnet152", "random", finetune.RANDOM_SEED)[1][
        0
    ].state_dict()
    after = backbone_state(payload)
    assert before.keys() == after.keys()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed, "nothing learned"
    assert all(name.startswith("layer4.") for name in changed), sorted(changed)[:5]
    # Frozen BatchNorm kept its running statistics (it stayed in eval mode).
    assert "layer3.35.bn3.running_mean" not in changed
    assert "layer4.2.bn3.running_mean" in changed
    assert payload["class_names"][:120] == list(BreedList.load().names)
    assert payload["arch"] == "resnet152" and payload["args"]["train_stages"] == 1
    assert payload["metrics"]["epoch"] == 1 and "val_top1" in payload["metrics"]


def test_two_stages_and_the_offline_backbone(dataset, tmp_path):
    payload = run(
        dataset,
        tmp_path / "lite.pt",
        "--arch",
        "efficientnet_lite0",
        "--train-stages",
        "2",
        "--optimizer",
        "sgd",
    )
    before = finetune.initial_backbone("efficientnet_lite0", "random", finetune.RANDOM_SEED)[1][0]
    after = backbone_state(payload)
    changed = {n for n, t in before.state_dict().items() if not torch.equal(t, after[n])}
    prefixes = ("conv_head.", "bn2.", "blocks.6.")
    assert any(n.startswith("blocks.6.") for n in changed)
    assert all(n.startswith(prefixes) for n in changed), sorted(changed)[:5]


def test_resume_continues_from_the_last_epoch(dataset, tmp_path, capsys):
    out = tmp_path / "resume.pt"
    run(dataset, out, "--arch", "efficientnet_lite0", "--epochs", "1")
    capsys.readouterr()
    run(dataset, out, "--arch", "efficientnet_lite0", "--epochs", "2", "--resume")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [h["epoch"] for h in summary["history"]] == [1, 2]


def test_the_checkpoint_serves_breed_predictions(dataset, tmp_path):
    path = tmp_path / "serve.pt"
    payload = run(dataset, path, "--arch", "efficientnet_lite0", "--epochs", "1")
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


def test_bad_stage_count_is_refused(dataset, tmp_path):
    with pytest.raises(SystemExit, match="train-stages"):
        run(dataset, tmp_path / "x.pt", "--arch", "efficientnet_lite0", "--train-stages", "9")


def test_a_diverging_run_stops_with_a_clear_message_and_saves_nothing(dataset, tmp_path, capsys):
    images, lists = dataset
    out = tmp_path / "diverged.pt"
    argv = [str(images), "--lists", str(lists), "--weights", "random", "--batch-size", "4"]
    argv += ["--workers", "0", "--max-steps", "2", "--epochs", "2", "--out", str(out)]
    argv += ["--arch", "efficientnet_lite0", "--lr", "1e30", "--head-lr", "1e30"]
    assert finetune.main(argv) == 3
    error = capsys.readouterr().err
    assert "diverged" in error and "--lr" in error
    assert not out.exists() and not (tmp_path / "diverged.pt.last.pt").exists()
