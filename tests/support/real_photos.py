"""Real Stanford Dogs photos for the browser tests: a small copy of ``../shared/data`` to index,
and a photo of two dogs made from two official *train* photos (the test split is not read).

Nothing of the shared data goes into the repository: the copies live in temporary folders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from services.dataset import files_in_split, load_split, read_boxes

PER_BREED = 16  # photos of each breed the real stack indexes
# Two breeds that look nothing alike, side by side: the localiser finds each (a German shepherd
# on the left, a Maltese on the right; checked on the offline backbone).
TWO_DOGS = ("n02106662-German_shepherd", "n02085936-Maltese_dog")
HEIGHT = 300  # px, both photos scaled to it


def copy_sample(sample: Path, images: Path, per_breed: int = PER_BREED) -> Path:
    """The first ``per_breed`` photos of each breed of ``sample`` copied under ``images``."""
    for folder in sorted((sample / "Images").iterdir()):
        (images / folder.name).mkdir(parents=True)
        for photo in sorted(folder.glob("*.jpg"))[:per_breed]:
            shutil.copy2(photo, images / folder.name / photo.name)
    return images


def one_dog_train_photos(sample: Path, folder: str) -> list[Path]:
    """The photos of ``folder`` in the official train split whose annotation has one dog."""
    split = load_split(sample / "lists")
    found = []
    for file in files_in_split(sample / "Images", split, "train"):
        breed_folder, _, name = file.relative_path.rpartition("/")
        if breed_folder != folder:
            continue
        if len(read_boxes(sample / "Annotation" / folder / Path(name).stem)) == 1:
            found.append(file.path)
    if not found:
        raise LookupError(f"no one-dog train photo in {folder}")
    return found


def first_one_dog_train_photo(sample: Path, folder: str) -> Path:
    """The first photo of ``folder`` in the official train split whose annotation has one dog."""
    return one_dog_train_photos(sample, folder)[0]


def two_dog_photo(sample: Path, out: Path, folders: tuple[str, str] = TWO_DOGS) -> Path:
    """A JPEG of two dogs side by side (one-dog train photos of ``folders``: the first of each,
    or the first two of one breed), written to ``out``."""
    photos = [
        one_dog_train_photos(sample, folder)[folders[:place].count(folder)]
        for place, folder in enumerate(folders)
    ]
    side_by_side(photos).save(out, quality=92)
    return out


def side_by_side(paths: list[Path], height: int = HEIGHT) -> Image.Image:
    """The photos at ``paths`` scaled to ``height`` and set side by side, left to right."""
    photos = []
    for path in paths:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
        photos.append(rgb.resize((round(rgb.width * height / rgb.height), height)))
    both = Image.new("RGB", (sum(photo.width for photo in photos), height))
    left = 0
    for photo in photos:
        both.paste(photo, (left, 0))
        left += photo.width
    return both
