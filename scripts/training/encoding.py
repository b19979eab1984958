"""Encoding files for evaluation: in this process with a model from disk, or through a running
encoder's HTTP API. Either way the result is the same :class:`Encoded`.

A degenerate model (random or diverged weights) can give vectors that are not finite; they are
replaced by zeros and counted, so the report says so instead of the ranking or the plots
crashing on them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from encoder.model import load_encoder
from scripts.training.labelled_images import LabelledImages, class_names_for
from services.dataset import ImageFile
from services.encoder_client import EncoderClient
from services.imaging import crop_fraction

TOP = 5  # breed guesses kept per photo


@dataclass
class Encoded:
    vectors: np.ndarray  # [N, dim] unit vectors (zeros where the model gave no finite vector)
    predictions: list[list[str]] = field(default_factory=list)  # top-5 breed names per photo
    dog_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    seconds: float = 0.0
    model: dict = field(default_factory=dict)
    non_finite: int = 0  # photos whose vector was not finite


def finished(vectors, predictions, dog_scores, seconds, model) -> Encoded:
    stacked = np.asarray(np.concatenate(vectors) if vectors else np.zeros((0, 0)), np.float32)
    bad = ~np.isfinite(stacked).all(axis=1) if stacked.size else np.zeros(0, bool)
    stacked[bad] = 0.0
    scores = np.nan_to_num(np.asarray(dog_scores, np.float32), nan=0.0)
    return Encoded(stacked, predictions, scores, seconds, model, int(bad.sum()))


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
        vectors, predictions, dog_scores = [], [], []
        started = time.perf_counter()
        for images, _ in tqdm(loader, desc=f"encode {Path(spec).name}", leave=False, disable=None):
            understood = encoder.embed(images)
            vectors.append(understood.vectors.numpy())
            dog_scores.extend(understood.dog_scores.tolist())
            probabilities = torch.nan_to_num(understood.breed_probabilities, nan=0.0)
            top = probabilities.topk(min(TOP, probabilities.shape[1]), dim=1).indices
            predictions.extend([[encoder.class_names[i] for i in row] for row in top.tolist()])
        seconds = time.perf_counter() - started
        return finished(vectors, predictions, dog_scores, seconds, encoder.info.to_dict())

    return encode


def service_encoder(url: str, args, boxes: dict | None = None):
    """``encode(files) -> Encoded`` through a running encoder's HTTP API."""
    client = EncoderClient([url], timeout_s=300)

    def encode(files: list[ImageFile]) -> Encoded:
        vectors, predictions, dog_scores, model = [], [], [], None
        started = time.perf_counter()
        starts = range(0, len(files), args.batch_size)
        for start in tqdm(starts, desc="encode", leave=False, disable=None):
            chunk = files[start : start + args.batch_size]
            model, results = client.encode([(f.relative_path, file_bytes(f, boxes)) for f in chunk])
            for file, result in zip(chunk, results, strict=True):
                if not result.ok:
                    raise SystemExit(f"{file.relative_path}: {result.error_message}")
                vectors.append(result.vector[None, :])
                predictions.append([p.breed for p in result.predictions[:TOP]])
                dog_scores.append(np.nan if result.dog_score is None else result.dog_score)
        seconds = time.perf_counter() - started
        return finished(vectors, predictions, dog_scores, seconds, model.to_dict() if model else {})

    return encode


def file_bytes(file: ImageFile, boxes: dict | None) -> bytes:
    data = file.path.read_bytes()
    box = (boxes or {}).get(file.relative_path)
    return crop_fraction(data, box) if box else data
