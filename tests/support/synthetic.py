"""Synthetic Stanford Dogs-style datasets made with Pillow: folder layout, names and JPEGs."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw

BREED_FOLDERS = ("n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02099601-golden_retriever")


def make_image(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct picture per seed: a coloured background with random shapes."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randrange(20, 140), y0 + rng.randrange(20, 140)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return image


def make_dataset(root: Path, per_breed: int = 10, breeds=BREED_FOLDERS) -> Path:
    """``root/Images/<wnid-Breed>/<wnid>_<n>.jpg``; returns the Images folder."""
    images = root / "Images"
    for b, folder in enumerate(breeds):
        wnid = folder.split("-")[0]
        (images / folder).mkdir(parents=True, exist_ok=True)
        for n in range(per_breed):
            make_image(b * 1000 + n).save(images / folder / f"{wnid}_{n + 1}.jpg", quality=90)
    return images


def image_bytes(image: Image.Image, format: str = "JPEG", **options) -> bytes:
    """``image`` encoded in memory (``options`` go to ``Image.save``: quality, exif...)."""
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def jpeg_bytes(seed: int, quality: int = 90) -> bytes:
    return image_bytes(make_image(seed), "JPEG", quality=quality)


def write_split_lists(images: Path, lists: Path, train_per_breed: int) -> Path:
    """Official-style ``train_list.txt``/``test_list.txt``: the first N of each breed train."""
    lists.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[str]] = {"train": [], "test": []}
    for folder in sorted(p for p in images.iterdir() if p.is_dir()):
        for n, file in enumerate(sorted(folder.iterdir())):
            rows["train" if n < train_per_breed else "test"].append(f"{folder.name}/{file.name}")
    for name, lines in rows.items():
        (lists / f"{name}_list.txt").write_text("".join(f"{line} 0\n" for line in lines))
    return lists
