"""Download Stanford Dogs (images, annotations, official split) into ``data/stanford-dogs/``.

    python scripts/download_stanford_dogs.py [--dest data/stanford-dogs]

Resumable (HTTP Range), with progress bars and a size check against the server's
Content-Length; archives are extracted safely and the official ``train_list.mat`` /
``test_list.mat`` become ``lists/train_list.txt`` / ``lists/test_list.txt``
(``<breed-folder>/<file>.jpg <label 1..120>``), the format the other scripts read.
Offline, it says which files to fetch by hand and where to put them.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

import requests
from tqdm import tqdm

from services.files import NotWritable, check_writable
from services.settings import StorageSettings

BASE_URL = "http://vision.stanford.edu/aditya86/ImageNetDogs"
ARCHIVES = {
    "images.tar": "Images",  # 757 MB, 20,580 JPEGs in 120 breed folders
    "annotation.tar": "Annotation",  # bounding boxes, PASCAL VOC XML
    "lists.tar": "lists",  # train_list.mat, test_list.mat, file_list.mat
}
# Beside the Images folder the search API serves (SEARCH_API_DATASET_ROOT), so one setting
# says where the dataset is, for `make up` and compose alike.
DEFAULT_DEST = StorageSettings().dataset_root.parent
CHUNK = 1 << 20


class DownloadFailed(RuntimeError):
    pass


def download(url: str, target: Path, *, timeout: float = 30, progress: bool = True) -> Path:
    """Fetch ``url`` to ``target``, resuming a partial ``target.part``; checks the final size."""
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = requests.get(url, stream=True, timeout=timeout, headers=headers)
    except requests.RequestException as error:
        raise DownloadFailed(f"cannot reach {url}: {type(error).__name__}") from None
    with response:
        if response.status_code == 416:  # already complete
            part.replace(target)
            return target
        if response.status_code not in (200, 206):
            raise DownloadFailed(f"{url} answered HTTP {response.status_code}")
        if response.status_code == 200:
            have = 0  # the server ignored Range: start over
        length = int(response.headers.get("Content-Length", 0))
        expected = have + length if length else None
        with (
            open(part, "ab" if have else "wb") as out,
            tqdm(
                total=expected,
                initial=have,
                unit="B",
                unit_scale=True,
                desc=target.name,
                disable=not progress,
            ) as bar,
        ):
            for chunk in response.iter_content(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    if expected is not None and part.stat().st_size != expected:
        raise DownloadFailed(
            f"{target.name}: got {part.stat().st_size} of {expected} bytes; run again to resume"
        )
    part.replace(target)
    return target


def extract(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")  # refuses absolute paths, links out, devices


def convert_lists(lists_dir: Path) -> None:
    """``*_list.mat`` -> ``*_list.txt`` with ``<relative path> <label>`` lines."""
    from scipy.io import loadmat

    for name in ("train", "test"):
        mat_path = lists_dir / f"{name}_list.mat"
        if not mat_path.exists():
            continue
        mat = loadmat(mat_path)
        lines = [
            f"{entry[0][0]} {int(label[0])}"
            for entry, label in zip(mat["file_list"], mat["labels"], strict=True)
        ]
        (lists_dir / f"{name}_list.txt").write_text("\n".join(lines) + "\n")


def manual_instructions(dest: Path) -> str:
    files = "\n".join(f"  {BASE_URL}/{name}" for name in ARCHIVES)
    return (
        f"Download these files by hand (any machine with internet):\n{files}\n"
        f"put them in {dest}/ and run this command again: it extracts what it finds there.\n"
        "Or use any folder of breed sub-folders instead: make up IMAGES=/path/to/folder"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--base-url", default=BASE_URL)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        check_writable(args.dest)
    except NotWritable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        for archive, folder in ARCHIVES.items():
            if (args.dest / folder).is_dir():
                print(f"{folder}/ already present")
                continue
            path = args.dest / archive
            if not path.exists():
                download(f"{args.base_url}/{archive}", path, progress=not args.no_progress)
            print(f"extracting {archive}")
            extract(path, args.dest if folder != "lists" else args.dest / "lists")
        convert_lists(args.dest / "lists")
    except DownloadFailed as error:
        print(
            f"error: Stanford Dogs could not be downloaded: {error}\n"
            f"{manual_instructions(args.dest)}",
            file=sys.stderr,
        )
        return 2
    print(f"Stanford Dogs is ready in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
