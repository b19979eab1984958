"""Synthetic Stanford Dogs-style datasets made with Pillow: folder layout, names and JPEGs."""

from __future__ import annotations

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
