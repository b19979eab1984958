"""Build the fine-tuning set of all 120 breeds from public repositories, train split only.

    python -m scripts.training.trainset --crops-git IA_Racas_Caninas.git \\
        --split-git Dog-Breeds-Classification-Generation.git \\
        --dev-git dog-breed-classification.git --out data/trainset

For machines that cannot download Stanford Dogs itself (``make finetune`` uses the real
dataset when ``data/stanford-dogs`` has it). No photo is ever committed here.

- Photos: ``kassya-rosa/IA_Racas_Caninas`` at :data:`CROPS_COMMIT` holds all 20,580 Stanford
  Dogs photos as 224x224 crops of their first box, in ``data/<wnid>-<name>/``; about 20 folder
  names are translated, so folders are matched to the official breeds by WordNet id.
- The official split: ``data/files/category.json`` of
  ``Hui-Hwoo/Dog-Breeds-Classification-Generation`` at :data:`SPLIT_COMMIT` (file name ->
  ``true`` for the train split). **Only train-split photos are written** (12,000 at most); a
  test-split photo is never read, and :func:`check_no_test_photo` refuses the output if one
  got in (it also checks against ``test_list.txt`` when ``--lists`` names the official lists).
- The dev set's photos (``ksara28/dog-breed-classification``, :mod:`scripts.training.devset`)
  are left out by file name, so the dev set stays unseen by training.

Writes ``OUT/Images/<official folder>/<file>.jpg`` and ``OUT/lists/train_list.txt`` in the
official format (``<folder>/<file> <label 1..120>``), so fine-tuning reads it like the real
dataset. Deterministic: the same inputs give the same files and list.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from tqdm import tqdm

from scripts.training.devset import DOGS_COMMIT, blobs, git
from services.dataset import DEFAULT_BREEDS_FILE

CROPS_COMMIT = "99df0ad4c010bca95dfaf6b5ed905a5ee47681d8"
SPLIT_COMMIT = "f3ae9385d0f9ea94ae91a4244b7dde81d874fe95"
SPLIT_FILE = "data/files/category.json"
CHUNK = 500  # blobs per `git cat-file --batch`


class TestPhotoInTrainingSet(RuntimeError):
    """A photo of the official test split reached the training set: the build is refused."""


def official_train_names(split_git: Path, commit: str = SPLIT_COMMIT) -> set[str]:
    """File names of the official train split (``category.json``: ``true`` = train)."""
    category = json.loads(git(split_git, "show", f"{commit}:{SPLIT_FILE}"))
    return {name for name, is_train in category.items() if is_train is True}


def dev_photo_names(dev_git: Path, commit: str = DOGS_COMMIT) -> set[str]:
    """File names of every photo the dev set may use (all of the dev repository's photos)."""
    listing = git(dev_git, "ls-tree", "-r", "--name-only", commit, "images/Images")
    return {Path(path).name for path in listing.splitlines() if path.lower().endswith(".jpg")}


def crop_photos(crops_git: Path, commit: str = CROPS_COMMIT) -> list[tuple[str, str]]:
    """``(wnid, path in the repository)`` of every photo in ``data/<wnid>-<name>/``."""
    listing = git(crops_git, "ls-tree", "-r", "--name-only", commit, "data/")
    found = []
    for path in listing.splitlines():
        parts = path.split("/")
        if len(parts) == 3 and parts[1][:1] == "n" and path.lower().endswith(".jpg"):
            found.append((parts[1].split("-", 1)[0], path))
    return found


def choose(
    photos: list[tuple[str, str]], train: set[str], dev: set[str], folders: list[str]
) -> tuple[list[tuple[str, str, int]], dict[str, int]]:
    """``(repository path, official relative path, label)`` of each photo to write: train
    split only, dev photos left out, folders matched by WordNet id. Sorted, so deterministic."""
    folder_of = {name.split("-", 1)[0]: (name, i + 1) for i, name in enumerate(folders)}
    kept, skipped = [], {"test_split": 0, "dev_set": 0, "not_a_breed": 0}
    for wnid, path in sorted(photos, key=lambda item: item[1]):
        name = Path(path).name
        if name not in train:
            skipped["test_split"] += 1  # never read: only its name was listed
        elif name in dev:
            skipped["dev_set"] += 1
        elif wnid not in folder_of:
            skipped["not_a_breed"] += 1
        else:
            folder, label = folder_of[wnid]
            kept.append((path, f"{folder}/{name}", label))
    return kept, skipped


def check_no_test_photo(out: Path, train: set[str], official_lists: Path | None = None) -> None:
    """Refuse (raise) if any written photo is not of the official train split."""
    written = {p.name for p in (out / "Images").rglob("*") if p.is_file()}
    listed = {
        line.split()[0].rsplit("/", 1)[-1]
        for line in (out / "lists" / "train_list.txt").read_text().splitlines()
        if line.strip()
    }
    outside = (written | listed) - train
    if official_lists is not None and (official_lists / "test_list.txt").is_file():
        test_names = {
            line.split()[0].rsplit("/", 1)[-1]
            for line in (official_lists / "test_list.txt").read_text().splitlines()
            if line.strip()
        }
        outside |= (written | listed) & test_names
    if outside:
        raise TestPhotoInTrainingSet(
            f"{len(outside)} photos outside the official train split reached {out} "
            f"(e.g. {sorted(outside)[:3]}); the training set must hold train-split photos only"
        )


def write(crops_git: Path, commit: str, kept: list[tuple[str, str, int]], out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)  # rebuilt from scratch: the same inputs, the same set
    (out / "lists").mkdir(parents=True)
    with tqdm(total=len(kept), desc="photos", unit="img") as bar:
        for start in range(0, len(kept), CHUNK):
            chunk = kept[start : start + CHUNK]
            for (_, relative, _), data in zip(
                chunk, blobs(crops_git, [f"{commit}:{path}" for path, _, _ in chunk]), strict=True
            ):
                target = out / "Images" / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            bar.update(len(chunk))
    lines = sorted(f"{relative} {label}\n" for _, relative, label in kept)
    (out / "lists" / "train_list.txt").write_text("".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crops-git", type=Path, required=True, help="IA_Racas_Caninas (bare)")
    parser.add_argument("--crops-commit", default=CROPS_COMMIT)
    parser.add_argument(
        "--split-git", type=Path, required=True, help="Dog-Breeds-Classification-Generation"
    )
    parser.add_argument("--split-commit", default=SPLIT_COMMIT)
    parser.add_argument("--dev-git", type=Path, help="dog-breed-classification: leave its out")
    parser.add_argument("--dev-commit", default=DOGS_COMMIT)
    parser.add_argument("--lists", type=Path, help="official lists, to check against too")
    parser.add_argument("--out", type=Path, default=Path("data/trainset"))
    args = parser.parse_args(argv)
    train = official_train_names(args.split_git, args.split_commit)
    dev = dev_photo_names(args.dev_git, args.dev_commit) if args.dev_git else set()
    photos = crop_photos(args.crops_git, args.crops_commit)
    folders = [line.strip() for line in DEFAULT_BREEDS_FILE.read_text().splitlines() if line]
    kept, skipped = choose(photos, train, dev, [f for f in folders if f])
    write(args.crops_git, args.crops_commit, kept, args.out)
    check_no_test_photo(args.out, train, args.lists)
    breeds = len({relative.split("/")[0] for _, relative, _ in kept})
    print(json.dumps({"out": str(args.out), "photos": len(kept), "breeds": breeds, **skipped}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
