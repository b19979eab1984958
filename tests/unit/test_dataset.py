"""Breed names, ids, split lists and path safety."""

from pathlib import Path

import pytest

from services.dataset import (
    BreedList,
    breed_name,
    content_id,
    is_valid_id,
    iter_image_files,
    load_split,
    safe_join,
)
from tests.support.synthetic import make_dataset


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("n02085620-Chihuahua", "Chihuahua"),
        ("n02085782-Japanese_spaniel", "Japanese spaniel"),
        ("n02096051-Airedale", "Airedale"),
        ("golden_retriever", "golden retriever"),
        ("My  Dogs", "My Dogs"),
        ("n02105855-Shetland_sheepdog", "Shetland sheepdog"),
    ],
)
def test_breed_name(folder, name):
    assert breed_name(folder) == name


def test_content_id_is_a_stable_hash_prefix():
    assert content_id(b"abc") == "ba7816bf8f01cfea414140de"  # sha256("abc")[:24]
    assert content_id(b"abc") != content_id(b"abd")
    assert is_valid_id(content_id(b"x"))
    for bad in ("../../etc/passwd", "BA7816BF8F01CFEA414140DE", "ba7816bf", "%2e%2e"):
        assert not is_valid_id(bad)


def test_breed_list_gives_official_class_index():
    breeds = BreedList.load()
    assert len(breeds.names) == 120
    assert breeds.index_of("Chihuahua") == 0
    assert breeds.index_of("japanese_spaniel") == 1
    assert breeds.index_of("Saint Bernard") == breeds.names.index("Saint Bernard")
    assert breeds.index_of("cat") == -1


def test_iter_image_files_walks_breed_folders(tmp_path):
    root = make_dataset(tmp_path, per_breed=2)
    (root / "notes.txt").write_text("not a folder of images")
    (root / "n02085620-Chihuahua" / "readme.txt").write_text("skipped")
    files = list(iter_image_files(root))
    assert len(files) == 6
    assert files[0].relative_path == "n02085620-Chihuahua/n02085620_1.jpg"
    assert {f.breed for f in files} == {"Chihuahua", "Japanese spaniel", "golden retriever"}


def test_load_split(tmp_path):
    (tmp_path / "train_list.txt").write_text("a/1.jpg 1\na/2.jpg 1\n")
    (tmp_path / "test_list.txt").write_text("a/3.jpg 1\n")
    assert load_split(tmp_path) == {"a/1.jpg": "train", "a/2.jpg": "train", "a/3.jpg": "test"}
    assert load_split(tmp_path / "missing") == {}


def test_safe_join_refuses_escapes(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jpg").write_bytes(b"1")
    (tmp_path / "link").symlink_to("/etc")
    assert safe_join(tmp_path, "a/x.jpg") == (tmp_path / "a" / "x.jpg").resolve()
    for bad in ("../etc/passwd", "/etc/passwd", "a/../../x", "link/passwd", "", "."):
        assert safe_join(tmp_path, bad) is None
