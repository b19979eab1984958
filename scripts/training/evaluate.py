"""Retrieval quality by breed: encode a gallery and queries, rank exactly, report metrics.

    python -m scripts.training.evaluate [IMAGES] --model imagenet --model checkpoints/ft.pt \\
        [--not-dogs ../shared/data/distractors]

Each ``--model`` is ``imagenet``, ``random`` (with ``--arch``) or a fine-tuned checkpoint path;
several are evaluated side by side in one run. ``--encoder-url`` evaluates the model a running
encoder serves instead, through its HTTP API. Writes ``report.json``, ``report.md`` and plots
to ``--out``. The metric code is :mod:`scripts.training.metrics`, the same the quality tests use.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from encoder.backbones import names
from encoder.checkpoint import WeightsUnavailable
from encoder.config import EncoderSettings
from scripts.training import eval_report
from scripts.training.encoding import Encoded, in_process_encoder, service_encoder
from scripts.training.labelled_images import add_dataset_arguments, lists_folder, select_files
from scripts.training.metrics import (
    breed_guess,
    confused_pairs,
    is_dog_metrics,
    match_bands,
    per_label,
    rank_gallery,
    summarise,
)
from services.dataset import IMAGE_SUFFIXES, ImageFile, load_boxes
from services.encoder_wire import ModelInfo
from services.errors import ApiError
from services.files import NotWritable, check_writable
from services.logs import configure_logging

log = logging.getLogger("evaluate")


def evaluate(gallery: Encoded, queries: Encoded, gallery_files, query_files, k: int) -> dict:
    gallery_labels = [f.breed for f in gallery_files]
    query_labels = [f.breed for f in query_files]
    depth = max(k, max(Counter(gallery_labels).values()))  # MAP@R needs R results
    order = rank_gallery(queries.vectors, gallery.vectors, depth)
    rankings = [[gallery_labels[i] for i in row] for row in order]
    result = {
        "metrics": summarise(rankings, query_labels, gallery_labels, k, with_map_at_r=True),
        "per_breed": per_label(rankings, query_labels, k),
        "confused_pairs": confused_pairs(rankings, query_labels, k),
        "order": order[:, :k],  # for the plots; not written to report.json
        "gallery_vectors": gallery.vectors,
    }
    if queries.predictions:
        result["metrics"].update(breed_guess(queries.predictions, query_labels))
    calibration = ModelInfo.from_dict({"arch": "", "dim": 0, "fingerprint": "", **gallery.model})
    best = (queries.vectors * gallery.vectors[order[:, 0]]).sum(axis=1)
    right = np.asarray(gallery_labels)[order[:, 0]] == np.asarray(query_labels)
    bands = match_bands(best, right, calibration.match_weak, calibration.match_strong)
    result["metrics"].update(bands)
    non_finite = gallery.non_finite + queries.non_finite
    if non_finite:
        result["metrics"]["non_finite_vectors"] = non_finite
    images = len(gallery_files) + len(query_files)
    result["metrics"]["encode_s_per_100_images"] = round(
        100 * (gallery.seconds + queries.seconds) / images, 2
    )
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Defaults come from SEARCH_API_DATASET_ROOT and ENCODER_ARCH.",
    )
    add_dataset_arguments(parser)
    parser.add_argument("--gallery-split", default="train")
    parser.add_argument("--query-split", default="test")
    parser.add_argument(
        "--model",
        action="append",
        help="imagenet | random | path to a checkpoint; repeat to compare (default: imagenet)",
    )
    parser.add_argument(
        "--arch",
        choices=["auto", *names()],
        default=EncoderSettings().arch,
        help="backbone for imagenet and random (default ENCODER_ARCH: %(default)s)",
    )
    parser.add_argument("--encoder-url", help="evaluate a running encoder instead")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--per-breed", type=int, help="at most N images per breed and split")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("reports/evaluation"))
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument(
        "--crop-to-box",
        choices=["off", "on", "both"],
        default="off",
        help="crop gallery and queries to the dogs' bounding boxes; 'both' reports each model "
        "with and without, to see whether cropping helps",
    )
    parser.add_argument(
        "--annotations",
        type=Path,
        help="Stanford Dogs Annotation folder (default IMAGES/../Annotation)",
    )
    parser.add_argument(
        "--not-dogs",
        type=Path,
        action="append",
        default=[],
        help="a folder of photos of other things (cats, wolves, ...); repeat. Adds is-dog "
        "precision and recall: the gallery and queries are the dogs",
    )
    return parser.parse_args(argv)


def photos_in(folders: list[Path]) -> list[ImageFile]:
    """Every image under ``folders``, for the is-dog metrics (labels do not matter)."""
    return [
        ImageFile(path, path.as_posix(), folder.name)
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    ]


def run_model(spec: str, args, files: dict[str, list[ImageFile]], boxes: dict | None) -> dict:
    """Encode everything with one model and measure it."""
    if args.encoder_url:
        encode = service_encoder(args.encoder_url, args, boxes)
    else:
        encode = in_process_encoder(spec, args.arch, args, boxes)
    gallery, queries = encode(files["gallery"]), encode(files["queries"])
    result = evaluate(gallery, queries, files["gallery"], files["queries"], args.k)
    if files["not_dogs"]:
        others = encode(files["not_dogs"])
        dogs = np.concatenate([gallery.dog_scores, queries.dog_scores])
        model = {"arch": "", "dim": 0, "fingerprint": "", **gallery.model}
        calibration = ModelInfo.from_dict(model)
        result["metrics"].update(is_dog_metrics(dogs, others.dog_scores, calibration.dog_threshold))
        best_for_others = (others.vectors @ gallery.vectors.T).max(axis=1)
        weak = calibration.match_weak
        result["metrics"]["not_dogs_no_match_share"] = float((best_for_others < weak).mean())
    result["model"] = gallery.model
    return result


def select(args) -> dict[str, list[ImageFile]]:
    files = {
        "gallery": select_files(args.images, args.lists, args.gallery_split, None, args.per_breed),
        "queries": select_files(args.images, args.lists, args.query_split, None, args.per_breed),
        "not_dogs": photos_in(args.not_dogs),
    }
    if not files["gallery"]:
        raise SystemExit(f"the gallery ({args.gallery_split} split) is empty")
    if not files["queries"]:
        raise SystemExit(f"there are no queries ({args.query_split} split)")
    return files


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("evaluate")
    with torch.no_grad():  # scoped: a test that runs evaluate in-process must not lose grad
        return run_evaluation(args)


def run_evaluation(args: argparse.Namespace) -> int:
    args.lists = lists_folder(args.images, args.lists)
    if args.lists is None:
        raise SystemExit("--lists is required: the gallery and queries come from the split lists")
    try:
        check_writable(args.out)  # before the encoding, which can take hours
    except NotWritable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    files = select(args)
    specs = [f"service:{args.encoder_url}"] if args.encoder_url else args.model or ["imagenet"]
    report = {
        "dataset": str(args.images),
        "gallery": {"split": args.gallery_split, "images": len(files["gallery"])},
        "queries": {"split": args.query_split, "images": len(files["queries"])},
        "not_dogs": {"folders": [str(f) for f in args.not_dogs], "images": len(files["not_dogs"])},
        "k": args.k,
        "models": {},
    }
    crops = {"off": [False], "on": [True], "both": [False, True]}[args.crop_to_box]
    boxes = {}
    if any(crops):
        annotations = args.annotations or args.images.parent / "Annotation"
        boxes = load_boxes(annotations, [*files["gallery"], *files["queries"]])
        if not boxes:
            raise SystemExit(f"no bounding boxes found under {annotations}")
        report["boxes"] = {"annotations": str(annotations), "images_with_box": len(boxes)}
    for spec in specs:
        for crop in crops:
            name = f"{spec} + box crop" if crop else spec
            try:
                report["models"][name] = run_model(spec, args, files, boxes if crop else None)
            except (WeightsUnavailable, ApiError) as error:
                print(f"error: {spec}: {getattr(error, 'message', error)}", file=sys.stderr)
                return 2
            log.info("evaluated", extra={"model": name, **report["models"][name]["metrics"]})
    args.out.mkdir(parents=True, exist_ok=True)
    eval_report.write(report, files["gallery"], files["queries"], args.out, plots=not args.no_plots)
    print(json.dumps({spec: r["metrics"] for spec, r in report["models"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
