"""Labelled images for fine-tuning and in-process evaluation: files, class order, tensors.

The class order is the official breed list (``data/breeds.txt``), so class ``i`` of a
fine-tuned head is breed id ``i`` in the index; folders that are not Stanford breeds get the
next indices, in name order. Images are decoded by :func:`services.imaging.decode_image`, the
same code the encoder runs, so EXIF orientation and colour modes are handled identically.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from encoder.model import RESIZE
from services.dataset import BreedList, ImageFile, breed_key, files_in_split, load_split
from services.errors import ApiError
from services.imaging import crop_image, decode_image
from services.settings import StorageSettings


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """``images`` (default: the dataset root the search API serves) and ``--lists``."""
    parser.add_argument(
        "images",
        type=Path,
        nargs="?",
        default=StorageSettings().dataset_root,
        help="dataset root, one folder per breed (default SEARCH_API_DATASET_ROOT: %(default)s)",
    )
    parser.add_argument(
        "--lists",
        type=Path,
        help="folder with train_list.txt and test_list.txt (default: IMAGES/../lists if there)",
    )


def lists_folder(images: Path, lists: Path | None) -> Path | None:
    """``--lists``, else the ``lists`` folder beside the images when it exists."""
    if lists is not None:
        return lists
    beside = images.parent / "lists"
    return beside if beside.is_dir() else None


def class_names_for(files: Sequence[ImageFile], breeds: BreedList | None = None) -> list[str]:
    """The 120 official breeds in order, then any other breeds found in ``files``."""
    breeds = breeds or BreedList.load()
    names = list(breeds.names)
    extra = sorted({f.breed for f in files if breeds.index_of(f.breed) < 0}, key=str.casefold)
    return names + extra


def select_files(
    root: Path,
    lists_dir: Path | None,
    split: str | None,
    limit: int | None = None,
    per_breed: int | None = None,
    seed: int = 0,
) -> list[ImageFile]:
    """Files of one split (all files when there are no lists), optionally capped.

    ``per_breed`` keeps the first N of each breed; ``limit`` then takes a seeded random sample,
    so a small smoke run still sees several breeds.
    """
    mapping = load_split(lists_dir) if lists_dir else {}
    if split and not mapping:
        raise SystemExit(
            f"no split lists in {lists_dir}: expected train_list.txt/test_list.txt "
            "(scripts/download_stanford_dogs.py writes them)"
        )
    files = files_in_split(root, mapping, split if mapping else None)
    if per_breed:
        seen: dict[str, int] = {}
        kept = []
        for file in files:
            seen[file.breed] = seen.get(file.breed, 0) + 1
            if seen[file.breed] <= per_breed:
                kept.append(file)
        files = kept
    if limit and limit < len(files):
        files = sorted(random.Random(seed).sample(files, limit), key=lambda f: f.relative_path)
    return files


class LabelledImages(Dataset):
    """``(tensor, class index)`` per file; a file that cannot be decoded raises with its path."""

    def __init__(
        self,
        files: Sequence[ImageFile],
        class_names: Sequence[str],
        transform: Callable,
        max_pixels: int | None = None,
        boxes: dict[str, tuple[float, ...]] | None = None,
    ):
        index = {breed_key(name): i for i, name in enumerate(class_names)}
        self.files = list(files)
        self.labels = [index[breed_key(f.breed)] for f in self.files]
        self.transform = transform
        self.max_pixels = max_pixels
        self.boxes = boxes or {}  # relative path -> dog bounding box (fractions), to crop to

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        file = self.files[i]
        try:
            options = {"max_pixels": self.max_pixels} if self.max_pixels else {}
            # Drafted like the encoder service decodes, so evaluation sees the same pixels.
            decoded = decode_image(file.path.read_bytes(), draft_size=(RESIZE, RESIZE), **options)
            image = decoded.image
            if file.relative_path in self.boxes:
                image = crop_image(image, self.boxes[file.relative_path])
        except ApiError as error:
            raise ValueError(f"{file.relative_path}: {error.message}") from None
        return self.transform(image), self.labels[i]
