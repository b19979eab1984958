"""The training-set builder: official train split only, dev photos left out, translated folder
names matched by WordNet id, deterministic, and a test-split photo refuses the build."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from scripts.training import trainset
from tests.support.synthetic import jpeg_bytes

CHIHUAHUA, KUVASZ = "n02085620", "n02104029"


def commit(repo: Path, files: dict[str, bytes]) -> str:
    """A repository with these files in one commit; returns the commit id."""
    for path, data in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "data"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repos(tmp_path):
    crops = {
        f"data/{CHIHUAHUA}-Chihuahua/{CHIHUAHUA}_1.jpg": jpeg_bytes(1),
        f"data/{CHIHUAHUA}-Chihuahua/{CHIHUAHUA}_2.jpg": jpeg_bytes(2),  # test split
        f"data/{CHIHUAHUA}-Chihuahua/{CHIHUAHUA}_3.jpg": jpeg_bytes(3),  # in the dev set
        f"data/{KUVASZ}-Kuvasz_traduzido/{KUVASZ}_1.jpg": jpeg_bytes(4),  # a translated name
        "README.md": b"not a photo",
    }
    split = {f"{CHIHUAHUA}_1.jpg": True, f"{CHIHUAHUA}_2.jpg": False, f"{CHIHUAHUA}_3.jpg": True}
    split[f"{KUVASZ}_1.jpg"] = True
    dev = {f"images/Images/{CHIHUAHUA}-Chihuahua/{CHIHUAHUA}_3.jpg": jpeg_bytes(3)}
    made = {}
    for name, files in (
        ("crops", crops),
        ("split", {trainset.SPLIT_FILE: json.dumps(split).encode()}),
        ("dev", dev),
    ):
        (tmp_path / name).mkdir()
        made[name] = (tmp_path / name / ".git", commit(tmp_path / name, files))
    return made


def build(repos, out: Path, *extra: str) -> int:
    args = []
    for flag, name in (("crops", "crops"), ("split", "split"), ("dev", "dev")):
        gitdir, sha = repos[name]
        args += [f"--{flag}-git", str(gitdir), f"--{flag}-commit", sha]
    return trainset.main([*args, "--out", str(out), *extra])


def test_only_train_split_photos_and_no_dev_photo(repos, tmp_path):
    out = tmp_path / "set"
    assert build(repos, out) == 0
    written = sorted(str(p.relative_to(out / "Images")) for p in (out / "Images").rglob("*.jpg"))
    assert written == [
        f"{CHIHUAHUA}-Chihuahua/{CHIHUAHUA}_1.jpg",
        f"{KUVASZ}-kuvasz/{KUVASZ}_1.jpg",  # the official folder name, by WordNet id
    ]
    lines = (out / "lists" / "train_list.txt").read_text().splitlines()
    assert lines == [
        f"{CHIHUAHUA}-Chihuahua/{CHIHUAHUA}_1.jpg 1",
        f"{KUVASZ}-kuvasz/{KUVASZ}_1.jpg 72",
    ]
    assert (out / "Images" / written[0]).read_bytes() == jpeg_bytes(1)
    first = {p: p.read_bytes() for p in (out / "Images").rglob("*.jpg")}
    assert build(repos, out) == 0  # deterministic: the same files again
    assert {p: p.read_bytes() for p in (out / "Images").rglob("*.jpg")} == first


def test_a_test_split_photo_in_the_output_refuses_the_build(repos, tmp_path):
    out = tmp_path / "set"
    assert build(repos, out) == 0
    sneaked = out / "Images" / f"{CHIHUAHUA}-Chihuahua" / f"{CHIHUAHUA}_2.jpg"
    sneaked.write_bytes(jpeg_bytes(2))
    train = trainset.official_train_names(*repos["split"])
    with pytest.raises(trainset.TestPhotoInTrainingSet, match="train split"):
        trainset.check_no_test_photo(out, train)


def test_the_official_test_list_is_checked_too(repos, tmp_path):
    out = tmp_path / "set"
    assert build(repos, out) == 0
    lists = tmp_path / "official"
    lists.mkdir()
    (lists / "test_list.txt").write_text(f"{KUVASZ}-kuvasz/{KUVASZ}_1.jpg 79\n")
    train = trainset.official_train_names(*repos["split"])
    with pytest.raises(trainset.TestPhotoInTrainingSet):
        trainset.check_no_test_photo(out, train, lists)
