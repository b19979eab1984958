"""Fit the dog score: is a photo a dog, from what the ImageNet classifier says of it.

    python -m scripts.training.dog_score data/trainset/Images --cats data/cats

The ImageNet probability mass on the 120 breeds alone took one cat in five for a dog (many
cats get some breed's probability). The classifier also knows cats and other felines, so the
score is a logistic model over five numbers of its softmax: the log mass on the breeds, on the
domestic cats (classes 281-285), on all felines (281-293), on everything else, and the log of the
most likely breed. Five weights learn from photos of dogs (the validation part of the official
train split, as fine-tuning splits it) and cats; each set is halved by the hash of the file name,
one half fits and the other measures. The printed weights are a backbone's calibration: they
go into :class:`services.encoder_wire.Calibration` (the defaults) or a backbone's own
``calibration`` (``encoder/backbones``); docs/calibration.md has the last run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from encoder.backbones import get_backbone
from encoder.model import load_encoder
from encoder.understanding import dog_features
from scripts.training.finetune import split_validation
from services.dataset import IMAGE_SUFFIXES, iter_image_files
from services.imaging import decode_image


def imagenet_logits(paths: list[Path], arch: str) -> torch.Tensor:
    encoder = load_encoder(arch, weights="imagenet", device="cpu")
    out = []
    for start in tqdm(range(0, len(paths), 32), desc="ImageNet classifier", unit="batch"):
        images = [
            encoder.transform(decode_image(p.read_bytes(), draft_size=(256, 256)).image)
            for p in paths[start : start + 32]
        ]
        with torch.inference_mode():
            out.append(encoder.net(torch.stack(images))[1].float())
    return torch.cat(out)


def first_half(path: Path) -> bool:
    # salted: validation photos are chosen by the unsalted hash, so it would put all in one half
    return hashlib.sha256(f"dog-score:{path.name}".encode()).digest()[0] < 128


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", type=Path, help="dataset of the official train split")
    parser.add_argument("--cats", type=Path, required=True, help="a folder of cat photos")
    parser.add_argument("--arch", default="efficientnet_lite0")
    parser.add_argument("--val-share", type=float, default=0.15)
    args = parser.parse_args(argv)
    from sklearn.linear_model import LogisticRegression

    files = sorted(iter_image_files(args.images), key=lambda f: f.relative_path)
    dogs = [f.path for f in split_validation(files, args.val_share)[1]]
    cats = sorted(p for p in args.cats.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    features = dog_features(imagenet_logits(dogs + cats, args.arch)).numpy()
    is_dog = np.r_[np.ones(len(dogs)), np.zeros(len(cats))]
    fit = np.array([first_half(p) for p in dogs + cats])
    model = LogisticRegression(C=1.0, max_iter=5000).fit(features[fit], is_dog[fit])
    threshold = get_backbone(args.arch).calibration.dog_threshold
    score = model.predict_proba(features[~fit])[:, 1] >= threshold
    held = is_dog[~fit] == 1
    report = {
        "weights": [round(float(w), 4) for w in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 4),
        "held_out": {
            "dogs": int(held.sum()),
            "cats": int((~held).sum()),
            "dog_recall": round(float(score[held].mean()), 4),
            "cats_taken_for_dogs": round(float(score[~held].mean()), 4),
        },
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
