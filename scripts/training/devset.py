"""Build the 120-breed dev set from public repositories (no photo is ever committed here).

    git clone --bare https://github.com/ksara28/dog-breed-classification dogs.git
    git clone --bare https://github.com/EliSchwartz/imagenet-sample-images imagenet.git
    python -m scripts.training.devset --dogs-git dogs.git --imagenet-git imagenet.git \\
        --lists data/stanford-dogs/lists --cats DIR --out data/devset
    python -m scripts.training.evaluate data/devset/Images --lists data/devset/lists \\
        --gallery-split gallery --query-split query --not-dogs data/devset/notdog

- Dogs: the 50-a-breed whole-frame 224x224 resizes of ``dog-breed-classification`` at a pinned
  commit, **official train split only** (the test split is kept for measuring the product
  elsewhere), split per breed into gallery (2/3) and queries (1/3) by the hash of the file name.
- Not dogs: one ImageNet photo of every class that is not a Stanford breed (wolves, foxes,
  coyote and hyena among them; the dalmatian is a dog, so left out, and three photos of other
  classes that show dogs are left out too), and the cat photos of ``--cats``.

Deterministic: the same inputs give the same files and lists.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from services.dataset import IMAGE_SUFFIXES

DOGS_COMMIT = "ce81acc11b2c81fcec84d9de8c767211a72380c3"
NOT_STANFORD_DOGS = {"n02110341"}  # dalmatian: an ImageNet dog class that Stanford Dogs lacks
SHOW_DOGS = {"n04409515", "n04254680", "n03218198"}  # tennis ball, soccer ball, dogsled photos
HARD_CANIDS = {
    "n02114367",  # timber wolf
    "n02114548",  # white wolf
    "n02114712",  # red wolf
    "n02114855",  # coyote
    "n02117135",  # hyena
    "n02119022",  # red fox
    "n02119789",  # kit fox
    "n02120079",  # Arctic fox
    "n02120505",  # grey fox
}


def git(gitdir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={gitdir}", *args], check=True, capture_output=True, text=True
    ).stdout


def blobs(gitdir: Path, specs: list[str]) -> list[bytes]:
    """Many ``<commit>:<path>`` blobs through one ``git cat-file --batch``."""
    data = subprocess.run(
        ["git", f"--git-dir={gitdir}", "cat-file", "--batch"],
        input=("\n".join(specs) + "\n").encode(),
        capture_output=True,
        check=True,
    ).stdout
    found, position = [], 0
    for spec in specs:
        newline = data.index(b"\n", position)
        header = data[position:newline].decode()
        if header.endswith("missing"):
            raise FileNotFoundError(spec)
        size = int(header.split()[2])
        found.append(data[newline + 1 : newline + 1 + size])
        position = newline + 1 + size + 1
    return found


def train_split(lists: Path) -> dict[str, tuple[str, int]]:
    """``{file name: (folder/file, label)}`` of the official train split."""
    rows = [line.split() for line in (lists / "train_list.txt").read_text().splitlines() if line]
    return {Path(path).name: (path, int(label)) for path, label in rows}


def write_dogs(args: argparse.Namespace) -> dict[int, list[str]]:
    train = train_split(args.lists)
    listing = git(args.dogs_git, "ls-tree", "-r", args.dogs_commit, "images/Images").splitlines()
    placeholder = git(args.dogs_git, "rev-parse", f"{args.dogs_commit}:placeholder.jpg").strip()
    kept: list[tuple[str, str, int]] = []
    for line in listing:
        meta, path = line.split("\t", 1)
        name = Path(path).name
        if path.lower().endswith(".jpg") and meta.split()[2] != placeholder and name in train:
            kept.append((path, *train[name]))
    by_breed: dict[int, list[str]] = defaultdict(list)
    photos = blobs(args.dogs_git, [f"{args.dogs_commit}:{path}" for path, _, _ in kept])
    for (_, relative, label), data in zip(kept, photos, strict=True):
        target = args.out / "Images" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        by_breed[label].append(relative)
    return by_breed


def write_lists(out: Path, by_breed: dict[int, list[str]], query_share: float) -> tuple[int, int]:
    gallery, queries = [], []
    for label in sorted(by_breed):
        ordered = sorted(
            by_breed[label], key=lambda p: hashlib.sha256(Path(p).name.encode()).digest()
        )
        cut = max(1, round(len(ordered) * query_share))
        queries += [f"{path} {label}\n" for path in sorted(ordered[:cut])]
        gallery += [f"{path} {label}\n" for path in sorted(ordered[cut:])]
    (out / "lists").mkdir(parents=True, exist_ok=True)
    (out / "lists" / "gallery_list.txt").write_text("".join(gallery))
    (out / "lists" / "query_list.txt").write_text("".join(queries))
    return len(gallery), len(queries)


def write_not_dogs(args: argparse.Namespace, breed_wnids: set[str]) -> dict[str, int]:
    names = git(args.imagenet_git, "ls-tree", "--name-only", "HEAD").splitlines()
    skip = breed_wnids | NOT_STANFORD_DOGS | SHOW_DOGS
    chosen = [n for n in sorted(names) if n.upper().endswith(".JPEG") and n[:9] not in skip]
    counts = {"canids": 0, "other": 0, "cats": 0}
    for name, data in zip(
        chosen, blobs(args.imagenet_git, [f"HEAD:{n}" for n in chosen]), strict=True
    ):
        group = "canids" if name[:9] in HARD_CANIDS else "other"
        (args.out / "notdog" / group).mkdir(parents=True, exist_ok=True)
        (args.out / "notdog" / group / name).write_bytes(data)
        counts[group] += 1
    if args.cats:
        (args.out / "notdog" / "cats").mkdir(parents=True, exist_ok=True)
        for photo in sorted(args.cats.iterdir()):
            if photo.suffix.lower() in IMAGE_SUFFIXES:
                shutil.copyfile(photo, args.out / "notdog" / "cats" / photo.name)
                counts["cats"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dogs-git", type=Path, required=True, help="ksara28/dog-breed-classification"
    )
    parser.add_argument("--dogs-commit", default=DOGS_COMMIT)
    parser.add_argument(
        "--imagenet-git", type=Path, required=True, help="EliSchwartz/imagenet-sample-images"
    )
    parser.add_argument("--lists", type=Path, required=True, help="official train_list.txt folder")
    parser.add_argument("--cats", type=Path, help="a folder of cat photos")
    parser.add_argument("--out", type=Path, default=Path("data/devset"))
    parser.add_argument("--query-share", type=float, default=1 / 3)
    args = parser.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)  # rebuilt from scratch: the same inputs, the same dev set
    by_breed = write_dogs(args)
    gallery, queries = write_lists(args.out, by_breed, args.query_share)
    breed_wnids = {path.split("-", 1)[0] for paths in by_breed.values() for path in paths}
    not_dogs = write_not_dogs(args, breed_wnids)
    print(f"dev set in {args.out}: {len(by_breed)} breeds, gallery {gallery}, queries {queries}")
    print(f"not dogs: {not_dogs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
