"""How a dataset folder maps to records: breed names, breed ids, content-hash ids, splits.

A dataset root holds one folder per breed. Stanford Dogs folders (``n02085620-Chihuahua``) and
plain ones (``Golden retriever/``) both work; the breed list in ``data/breeds.txt`` (the 120
official folder names, line i = class i) gives the stable class index.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

ID_HEX_CHARS = 24  # 96 bits of SHA-256: no collision in practice even at 10^9 images
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
UNKNOWN_BREED = "unknown"
LIBRARY_PREFIX = "@library/"  # index paths of photos added through the API, not the dataset

_WNID_PREFIX = re.compile(r"^n\d{8}-")
_ID_PATTERN = re.compile(rf"^[0-9a-f]{{{ID_HEX_CHARS}}}$")
DEFAULT_BREEDS_FILE = Path(__file__).resolve().parent.parent / "data" / "breeds.txt"


def content_id(data: bytes) -> str:
    """The image's id: a prefix of the SHA-256 of its bytes, so re-ingesting is a no-op."""
    return hashlib.sha256(data).hexdigest()[:ID_HEX_CHARS]


def is_valid_id(value: str) -> bool:
    return bool(_ID_PATTERN.match(value))


def breed_name(folder_name: str) -> str:
    """``n02085782-Japanese_spaniel`` -> ``Japanese spaniel``; ``a_b`` -> ``a b``."""
    name = _WNID_PREFIX.sub("", folder_name.strip())
    name = re.sub(r"[_\s]+", " ", name).strip()
    return name or UNKNOWN_BREED


def breed_label(name: str) -> str:
    """How a breed reads on screen, one style for all: ``golden retriever`` -> ``Golden
    retriever``, ``Lhasa`` and ``German shepherd`` unchanged. The stored name (the official
    list's spelling, :meth:`BreedList.spelling`) stays the key everywhere else."""
    return name[:1].upper() + name[1:]


def breed_key(name: str) -> str:
    """Case- and separator-insensitive form used to match a breed name to the breed list."""
    return re.sub(r"[\s_\-]+", " ", name).strip().casefold()


@dataclass(frozen=True)
class BreedList:
    """The official class order: ``names[i]`` is class ``i`` (0-based; Stanford labels are i+1)."""

    names: tuple[str, ...]

    @classmethod
    def load(cls, path: Path = DEFAULT_BREEDS_FILE) -> BreedList:
        if not path.exists():
            return cls(())
        folders = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        return cls(tuple(breed_name(folder) for folder in folders))

    def index_of(self, name: str) -> int:
        """Class index of a breed name, or -1 when it is not one of the known breeds."""
        wanted = breed_key(name)
        for index, known in enumerate(self.names):
            if breed_key(known) == wanted:
                return index
        return -1

    def spelling(self, name: str) -> str:
        """The list's own spelling of a listed breed (``BEAGLE``, ``Golden_Retriever`` ->
        ``beagle``, ``golden retriever``), so one breed has one name in the index, the API and
        exports; a breed not on the list keeps ``name``."""
        index = self.index_of(name)
        return self.names[index] if index >= 0 else name


@dataclass(frozen=True)
class ImageFile:
    path: Path  # absolute
    relative_path: str  # relative to the dataset root, POSIX separators
    breed: str


def iter_image_files(root: Path) -> Iterator[ImageFile]:
    """Every image file one level below a breed folder, in a stable (sorted) order."""
    root = root.resolve()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        breed = breed_name(folder.name)
        for file in sorted(folder.rglob("*")):
            if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
                yield ImageFile(file, file.relative_to(root).as_posix(), breed)


def files_in_split(root: Path, split: dict[str, str], name: str | None) -> list[ImageFile]:
    """The images under ``root`` in split ``name`` (all of them when ``name`` is ``None``)."""
    return [
        file
        for file in iter_image_files(root)
        if name is None or split.get(file.relative_path) == name
    ]


def load_split(lists_dir: Path) -> dict[str, str]:
    """``{"n02085620-Chihuahua/n02085620_1.jpg": "train", ...}`` from the list files.

    Every ``<split>_list.txt`` (``<path> <label>`` per line) names a split: the official
    ``train`` and ``test`` written by ``scripts/jobs/download_stanford_dogs.py``, or the dev
    set's ``gallery`` and ``query``. No folder, or no lists, gives an empty mapping.
    """
    split: dict[str, str] = {}
    for list_file in sorted(lists_dir.glob("*_list.txt")) if lists_dir.is_dir() else []:
        name = list_file.name.removesuffix("_list.txt")
        for line in list_file.read_text().splitlines():
            if line.strip():
                split[line.split()[0]] = name
    return split


def read_box(annotation: Path) -> tuple[float, float, float, float] | None:
    """The dogs' bounding box from a Stanford Dogs annotation (PASCAL VOC XML), as fractions
    of the image; several dogs give the box around all of them. ``None`` when unreadable."""
    boxes = read_boxes(annotation)
    if not boxes:
        return None
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    box = (left, top, max(b[2] for b in boxes), max(b[3] for b in boxes))
    return box


def read_boxes(annotation: Path) -> list[tuple[float, float, float, float]]:
    """Each dog's box from a Stanford Dogs annotation, as fractions of the image (empty when
    unreadable). The files come with the dataset (trusted, about 1 KB each); larger ones are
    not parsed."""
    try:
        if annotation.stat().st_size > 64 * 1024:
            return []
        root = ElementTree.parse(annotation).getroot()
        width = float(root.findtext("size/width") or 0)
        height = float(root.findtext("size/height") or 0)
        boxes = [
            [float(box.findtext(side) or "nan") for side in ("xmin", "ymin", "xmax", "ymax")]
            for box in root.iter("bndbox")
        ]
    except (OSError, ElementTree.ParseError, ValueError):
        return []
    if width <= 0 or height <= 0:
        return []
    clamp = lambda v: min(1.0, max(0.0, v))  # noqa: E731 - boxes sometimes overshoot by a pixel
    out = []
    for left, top, right, bottom in boxes:
        box = (
            clamp(left / width),
            clamp(top / height),
            clamp(right / width),
            clamp(bottom / height),
        )
        if box[0] < box[2] and box[1] < box[3]:
            out.append(box)
    return out


def load_boxes(annotations: Path, files: Sequence[ImageFile]) -> dict[str, tuple[float, ...]]:
    """``{relative_path: box}`` for the files that have an annotation (``<folder>/<stem>``)."""
    boxes: dict[str, tuple[float, ...]] = {}
    for file in files:
        folder, _, name = file.relative_path.rpartition("/")
        box = read_box(annotations / folder / Path(name).stem)
        if box is not None:
            boxes[file.relative_path] = box
    return boxes


def safe_join(root: Path, relative: str) -> Path | None:
    """``root / relative`` if it stays inside ``root`` (after resolving links), else ``None``."""
    root = root.resolve()
    try:
        candidate = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if candidate == root or root not in candidate.parents:
        return None
    return candidate
