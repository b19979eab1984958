"""Localisation quality on Stanford Dogs' own boxes: recall at IoU 0.5 and false boxes per
photo, for photos of one dog and of several, printed as JSON.

Reads only the official *train* split (the settings are chosen here; the test split is never
read). ``--sweep`` tries a small grid of thresholds on the same photos and prints each, which is
how :class:`encoder.localise.LocaliseSettings`' defaults were chosen; ``--holdout`` then checks
whether a choice carries over: the grid's best on one half of the photos (by a hash of the
name), and the defaults, scored on the other half::

    python -m scripts.bench.localise --data ../shared/data/stanford-dogs-sample
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from PIL import Image

from encoder.localise import Box, CamLocaliser, LocaliseSettings, boxes_from_map
from encoder.model import load_encoder
from encoder.spatial import spatial_net
from services.dataset import ImageFile, files_in_split, load_split, read_boxes

IOU = 0.5


def iou(a: Box, b: Box) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(found: list[Box], truth: list[Box]) -> tuple[int, int]:
    """(true dogs found, false boxes): greedy one-to-one matching at IoU >= 0.5."""
    pairs = sorted(
        ((iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)),
        reverse=True,
    )
    used_found, used_truth = set(), set()
    for overlap, i, j in pairs:
        if overlap < IOU:
            break
        if i not in used_found and j not in used_truth:
            used_found.add(i)
            used_truth.add(j)
    return len(used_truth), len(found) - len(used_found)


def score(heats: list[np.ndarray], truths: list[list[Box]], settings: LocaliseSettings) -> dict:
    groups: dict[str, list[int]] = {"one_dog": [0, 0, 0, 0], "several_dogs": [0, 0, 0, 0]}
    for heat, truth in zip(heats, truths, strict=True):
        found, false = match([d.box for d in boxes_from_map(heat, settings)], truth)
        group = groups["one_dog" if len(truth) == 1 else "several_dogs"]
        group[0] += 1
        group[1] += len(truth)
        group[2] += found
        group[3] += false
    return {
        name: {
            "photos": photos,
            "dogs": dogs,
            "recall": round(found / max(dogs, 1), 3),
            "false_boxes_per_photo": round(false / max(photos, 1), 3),
        }
        for name, (photos, dogs, found, false) in groups.items()
    }


def photo_bench_parser(
    doc: str, *, arch: str = "auto", checkpoint: bool = True
) -> argparse.ArgumentParser:
    """What every localisation bench takes: where the photos are, and which model."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/stanford-dogs-sample"))
    parser.add_argument("--arch", default=arch)
    if checkpoint:
        parser.add_argument("--checkpoint", default="")
    return parser


def train_photos(data: Path, limit: int) -> list[tuple[ImageFile, list[Box]]]:
    split = load_split(data / "lists")
    photos = []
    for file in files_in_split(data / "Images", split, "train"):
        folder, _, name = file.relative_path.rpartition("/")
        boxes = read_boxes(data / "Annotation" / folder / Path(name).stem)
        if boxes:
            photos.append((file, boxes))
    return photos[:limit] if limit else photos


def sweep_grid(base: LocaliseSettings) -> list[LocaliseSettings]:
    return [
        replace(base, threshold=t, min_score=max(t, s), margin=m, seed=seed)
        for t, s, m, seed in itertools.product(
            (0.2, 0.3, 0.4, 0.5), (0.5, 0.7, 0.8), (0.0, 0.05, 0.1), (0.9, 0.95, 1.0)
        )
    ]


def merit(result: dict) -> float:
    """One number to choose by: recall of both kinds, less a little for false boxes."""
    one, several = result["one_dog"], result["several_dogs"]
    return (
        one["recall"]
        + several["recall"]
        - 0.1 * one["false_boxes_per_photo"]
        - 0.05 * several["false_boxes_per_photo"]
    )


def holdout(
    heats: list[np.ndarray], truths: list[list[Box]], names: list[str], base: LocaliseSettings
) -> dict:
    """Choose on one half, score on the other: does the grid's best beat the defaults there?"""
    half = [int(hashlib.sha1(name.encode()).hexdigest(), 16) % 2 == 0 for name in names]
    tune = [i for i, chosen in enumerate(half) if chosen]
    held = [i for i, chosen in enumerate(half) if not chosen]

    def on(indices: list[int], settings: LocaliseSettings) -> dict:
        return score([heats[i] for i in indices], [truths[i] for i in indices], settings)

    best = max(sweep_grid(base), key=lambda option: merit(on(tune, option)))
    return {
        "chosen_on_one_half": asdict(best),
        "chosen": {"tuning_half": on(tune, best), "held_out_half": on(held, best)},
        "defaults": {"tuning_half": on(tune, base), "held_out_half": on(held, base)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = photo_bench_parser(__doc__)
    parser.add_argument("--longest", type=int, default=LocaliseSettings.longest)
    parser.add_argument("--limit", type=int, default=0, help="first N train photos (0: all)")
    parser.add_argument("--sweep", action="store_true", help="print a grid of settings too")
    parser.add_argument(
        "--holdout", action="store_true", help="choose on half the photos, score on the rest"
    )
    args = parser.parse_args(argv)
    encoder = load_encoder(args.arch, checkpoint=args.checkpoint or None, device="cpu")
    settings = LocaliseSettings(longest=args.longest)
    localiser = CamLocaliser(spatial_net(encoder), settings)
    photos = train_photos(args.data, args.limit)
    started = time.perf_counter()
    heats = [localiser.heat(Image.open(file.path)) for file, _ in photos]
    seconds = time.perf_counter() - started
    truths = [boxes for _, boxes in photos]
    report = {
        "split": "train",
        "arch": encoder.info.arch,
        "weights": encoder.info.weights,
        "settings": asdict(settings),
        "map_ms_per_photo": round(seconds * 1000 / max(len(photos), 1), 1),
        **score(heats, truths, settings),
    }
    print(json.dumps(report))
    if args.sweep:
        for option in sweep_grid(settings):
            print(json.dumps({"settings": asdict(option), **score(heats, truths, option)}))
    if args.holdout:
        names = [file.relative_path for file, _ in photos]
        print(json.dumps({"holdout": holdout(heats, truths, names, settings)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
