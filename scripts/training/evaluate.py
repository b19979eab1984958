"""Retrieval quality by breed: encode a gallery and queries, rank exactly, report metrics.

    python scripts/evaluate.py data/stanford-dogs/Images --lists data/stanford-dogs/lists \\
        --model imagenet --model checkpoints/finetuned.pt

Each ``--model`` is ``imagenet``, ``random`` (with ``--arch``) or a fine-tuned checkpoint path;
several are evaluated side by side in one run. ``--encoder-url`` evaluates the model a running
encoder serves instead, through its HTTP API. Writes ``report.json``, ``report.md`` and plots
to ``--out``. The metric code is :mod:`scripts.metrics`, the same the quality tests use.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from encoder.config import EncoderSettings
from encoder.model import BACKBONES, WeightsUnavailable, load_encoder
from scripts.training import eval_report
from scripts.training.labelled_images import (
    LabelledImages,
    add_dataset_arguments,
    class_names_for,
    lists_folder,
    select_files,
)
from scripts.training.metrics import confused_pairs, per_label, rank_gallery, summarise
from services.dataset import ImageFile, load_boxes
from services.encoder_client import EncoderClient
from services.errors import ApiError
from services.files import NotWritable, check_writable
from services.imaging import crop_fraction
from services.logs import configure_logging

log = logging.getLogger("evaluate")


@dataclass
class Encoded:
    vectors: np.ndarray  # [N, dim] unit vectors
    predictions: list[list[str]] = field(default_factory=list)  # top-5 breed names, head only
    seconds: float = 0.0
    model: dict = field(default_factory=dict)


def in_process_encoder(spec: str, arch: str, args, boxes: dict | None = None):
    """``encode(files) -> Encoded`` with the model ``spec`` names, loaded once."""
    checkpoint = spec if spec not in ("imagenet", "random") else None
    encoder = load_encoder(arch, "random" if spec == "random" else "auto", checkpoint, args.device)

    def encode(files: list[ImageFile]) -> Encoded:
        loader = DataLoader(
            LabelledImages(files, class_names_for(files), encoder.transform, boxes=boxes),
            batch_size=args.batch_size,
            num_workers=args.workers,
        )
        vectors, predictions = [], []
        started = time.perf_counter()
        bar = tqdm(loader, desc=f"encode {Path(spec).name}", leave=False, disable=None)
        for images, _ in bar:
            batch_vectors, probabilities = encoder.embed(images)
            vectors.append(batch_vectors.numpy())
            if probabilities is not None:
                top = probabilities.topk(min(5, probabilities.shape[1]), dim=1).indices
                predictions.extend([[encoder.class_names[i] for i in row] for row in top.tolist()])
        seconds = time.perf_counter() - started
        return Encoded(np.concatenate(vectors), predictions, seconds, encoder.info.to_dict())

    return encode


def service_encoder(url: str, args, boxes: dict | None = None):
    """``encode(files) -> Encoded`` through a running encoder's HTTP API."""
    client = EncoderClient([url], timeout_s=300)

    def encode(files: list[ImageFile]) -> Encoded:
        vectors, predictions, model = [], [], None
        started = time.perf_counter()
        starts = range(0, len(files), args.batch_size)
        for start in tqdm(starts, desc="encode", leave=False, disable=None):
            chunk = files[start : start + args.batch_size]
            model, results = client.encode([(f.relative_path, _bytes(f, boxes)) for f in chunk])
            for file, result in zip(chunk, results, strict=True):
                if not result.ok:
                    raise SystemExit(f"{file.relative_path}: {result.error_message}")
                vectors.append(result.vector)
                predictions.append([p.breed for p in result.predictions])
        has_head = bool(model and model.has_head)
        return Encoded(
            np.stack(vectors),
            predictions if has_head else [],
            time.perf_counter() - started,
            model.to_dict() if model else {},
        )

    return encode


def _bytes(file: ImageFile, boxes: dict | None) -> bytes:
    data = file.path.read_bytes()
    box = (boxes or {}).get(file.relative_path)
    return crop_fraction(data, box) if box else data


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
        top1 = np.mean([p[0] == q for p, q in zip(queries.predictions, query_labels, strict=True)])
        top5 = np.mean([q in p for p, q in zip(queries.predictions, query_labels, strict=True)])
        result["metrics"]["head_top1"] = float(top1)
        result["metrics"]["head_top5"] = float(top5)
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
        choices=["auto", *sorted(BACKBONES)],
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("evaluate")
    torch.set_grad_enabled(False)
    args.lists = lists_folder(args.images, args.lists)
    if args.lists is None:
        raise SystemExit("--lists is required: the gallery and queries come from the split lists")
    try:
        check_writable(args.out)  # before the encoding, which can take hours
    except NotWritable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    gallery_files = select_files(args.images, args.lists, args.gallery_split, None, args.per_breed)
    query_files = select_files(args.images, args.lists, args.query_split, None, args.per_breed)
    if not gallery_files:
        raise SystemExit(f"the gallery ({args.gallery_split} split) is empty")
    if not query_files:
        raise SystemExit(f"there are no queries ({args.query_split} split)")

    specs = [f"service:{args.encoder_url}"] if args.encoder_url else args.model or ["imagenet"]
    report = {
        "dataset": str(args.images),
        "gallery": {"split": args.gallery_split, "images": len(gallery_files)},
        "queries": {"split": args.query_split, "images": len(query_files)},
        "k": args.k,
        "models": {},
    }
    crops = {"off": [False], "on": [True], "both": [False, True]}[args.crop_to_box]
    boxes = {}
    if any(crops):
        annotations = args.annotations or args.images.parent / "Annotation"
        boxes = load_boxes(annotations, [*gallery_files, *query_files])
        if not boxes:
            raise SystemExit(f"no bounding boxes found under {annotations}")
        report["boxes"] = {"annotations": str(annotations), "images_with_box": len(boxes)}
    for spec in specs:
        for crop in crops:
            name = f"{spec} + box crop" if crop else spec
            try:
                if args.encoder_url:
                    encode = service_encoder(args.encoder_url, args, boxes if crop else None)
                else:
                    encode = in_process_encoder(spec, args.arch, args, boxes if crop else None)
                gallery, queries = encode(gallery_files), encode(query_files)
            except (WeightsUnavailable, ApiError) as error:
                print(f"error: {spec}: {getattr(error, 'message', error)}", file=sys.stderr)
                return 2
            result = evaluate(gallery, queries, gallery_files, query_files, args.k)
            result["model"] = gallery.model
            report["models"][name] = result
            log.info("evaluated", extra={"model": name, **result["metrics"]})

    args.out.mkdir(parents=True, exist_ok=True)
    eval_report.write(report, gallery_files, query_files, args.out, plots=not args.no_plots)
    print(json.dumps({spec: r["metrics"] for spec, r in report["models"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
