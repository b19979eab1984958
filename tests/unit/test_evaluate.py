"""evaluate.py on a synthetic split: report files, and numbers equal to a brute-force count."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from encoder.model import load_encoder
from scripts.training import evaluate
from scripts.training.labelled_images import select_files
from services.dataset import read_box
from services.imaging import decode_image
from tests.support.stack import write_annotation
from tests.support.synthetic import make_dataset, write_split_lists


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    images = make_dataset(root, per_breed=7)
    return images, write_split_lists(images, root / "lists", train_per_breed=4)


def brute_force_p_at_1_and_recall_at_5(images, lists) -> tuple[float, float]:
    encoder = load_encoder("efficientnet_lite0", "random")

    def vectors(files):
        batch = torch.stack(
            [encoder.transform(decode_image(f.path.read_bytes()).image) for f in files]
        )
        return encoder.embed(batch).vectors.numpy()

    gallery = select_files(images, lists, "train")
    queries = select_files(images, lists, "test")
    g, q = vectors(gallery), vectors(queries)
    p1, r5 = [], []
    for query, vector in zip(queries, q, strict=True):
        similarities = [float(vector @ other) for other in g]
        ranked = sorted(range(len(gallery)), key=lambda i: -similarities[i])
        p1.append(gallery[ranked[0]].breed == query.breed)
        r5.append(any(gallery[i].breed == query.breed for i in ranked[:5]))
    return float(np.mean(p1)), float(np.mean(r5))


def random_lite0_argv(images, lists, *extra: str) -> list[str]:
    """evaluate.py on the synthetic split with a small random model, in this process."""
    return [
        str(images),
        *("--lists", str(lists), "--arch", "efficientnet_lite0", "--model", "random"),
        *("--workers", "0", *extra),
    ]


def test_report_matches_a_brute_force_count(dataset, tmp_path):
    images, lists = dataset
    out = tmp_path / "report"
    assert evaluate.main(random_lite0_argv(images, lists, "--out", str(out))) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["gallery"] == {"split": "train", "images": 12}
    assert report["queries"] == {"split": "test", "images": 9}
    metrics = report["models"]["random"]["metrics"]
    p1, r5 = brute_force_p_at_1_and_recall_at_5(images, lists)
    assert metrics["p@1"] == pytest.approx(p1)
    assert metrics["recall@5"] == pytest.approx(r5)
    assert 0 <= metrics["map@r"] <= 1 and metrics["queries"] == 9
    assert set(report["models"]["random"]["per_breed"]) == {
        "Chihuahua",
        "Japanese spaniel",
        "golden retriever",
    }
    for name in ("report.md", "per_breed_random.png", "embedding_random.png", "strips_random.jpg"):
        assert (out / name).stat().st_size > 0, name
    assert "| random |" in (out / "report.md").read_text()


def test_an_empty_gallery_is_an_error(dataset, tmp_path):
    images, lists = dataset
    argv = [str(images), "--lists", str(lists), "--gallery-split", "nope", "--out", str(tmp_path)]
    with pytest.raises(SystemExit, match="gallery"):
        evaluate.main(argv)


def test_bounding_boxes_are_read_as_fractions_around_every_dog(tmp_path):
    two_dogs = tmp_path / "n1-a" / "n1_1"
    write_annotation(two_dogs, 200, 100, (20, 10, 60, 50), (100, 30, 201, 90))
    assert read_box(two_dogs) == (0.1, 0.1, 1.0, 0.9)  # union, overshoot clamped
    broken = tmp_path / "n1-a" / "n1_2"
    broken.write_text("<annotation><size>")
    assert read_box(broken) is None
    assert read_box(tmp_path / "missing") is None


def test_evaluate_reports_with_and_without_box_crops(dataset, tmp_path):
    images, lists = dataset
    annotations = images.parent / "Annotation"
    for file in select_files(images, lists, "train") + select_files(images, lists, "test"):
        folder, _, name = file.relative_path.rpartition("/")
        write_annotation(
            annotations / folder / name.rsplit(".", 1)[0], 320, 240, (40, 30, 240, 200)
        )
    argv = random_lite0_argv(
        images, lists, "--no-plots", "--crop-to-box", "both", "--out", str(tmp_path / "r")
    )
    assert evaluate.main(argv) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert set(report["models"]) == {"random", "random + box crop"}
    assert report["boxes"]["images_with_box"] == 21
    plain = report["models"]["random"]["metrics"]
    cropped = report["models"]["random + box crop"]["metrics"]
    assert plain != cropped  # the crop changed what the model saw


def test_a_diverged_model_with_one_breed_is_reported_not_crashed_on(tmp_path, monkeypatch):
    """A model whose vectors are NaN (diverged fine-tuning) and a gallery of one breed: the
    report says so, and every file (plots included) is still written."""
    images = make_dataset(tmp_path / "one", per_breed=6, breeds=("n02085620-Chihuahua",))
    lists = write_split_lists(images, tmp_path / "lists", train_per_breed=3)
    encoder_type = type(load_encoder("efficientnet_lite0", "random"))
    real_embed = encoder_type.embed

    def diverged(self, batch):
        understood = real_embed(self, batch)
        nan = torch.full_like(understood.vectors, float("nan"))
        return type(understood)(
            nan,
            torch.full_like(understood.breed_probabilities, float("nan")),
            understood.dog_scores,
        )

    monkeypatch.setattr(encoder_type, "embed", diverged)
    out = tmp_path / "report"
    argv = random_lite0_argv(images, lists, "--out", str(out), "--not-dogs", str(images))
    assert evaluate.main(argv) == 0
    (metrics,) = [
        m["metrics"] for m in json.loads((out / "report.json").read_text())["models"].values()
    ]
    assert metrics["non_finite_vectors"] == 6 and metrics["queries"] == 3
    assert {"is_dog_precision", "breed_top1", "match_none_share"} <= set(metrics)
    assert (out / "report.md").is_file() and list(out.glob("strips_*.jpg"))
    assert list(out.glob("embedding_*"))  # the map, or a note saying why there is none
