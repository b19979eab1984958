"""Library consistency when a step fails: no file without its row, no row without its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search_api.library import FileStoreError, Library
from services.errors import DependencyUnavailable
from services.schema import EncodedImage, ModelInfo

MODEL = ModelInfo("efficientnet_lite0", 4, "abc", "imagenet", True, False)


class FakeStore:
    collection = "dogs"

    def __init__(self, fail_upsert: bool = False):
        self.rows: dict[str, dict] = {}
        self.fail_upsert = fail_upsert

    def ensure_collection(self, model):
        pass

    def model(self):
        return MODEL

    def existing_ids(self, ids):
        return {i for i in ids if i in self.rows}

    def upsert(self, rows):
        if self.fail_upsert:
            raise DependencyUnavailable("milvus", "down")
        self.rows.update({row["id"]: dict(row) for row in rows})

    def get(self, ids, with_vectors=False):
        return [dict(self.rows[i]) for i in ids if i in self.rows]

    def delete(self, ids):
        for i in ids:
            self.rows.pop(i, None)


class FakeEncoder:
    def encode(self, uploads):
        return MODEL, [EncodedImage(vector=np.ones(4, np.float32) / 2, width=8, height=8)] * len(
            uploads
        )


def library(tmp_path: Path, store: FakeStore) -> Library:
    return Library(store, FakeEncoder(), tmp_path / "data", tmp_path / "lib", tmp_path / "thumbs")


def test_a_failed_upsert_leaves_no_file_behind(tmp_path):
    lib = library(tmp_path, FakeStore(fail_upsert=True))
    with pytest.raises(DependencyUnavailable):
        lib.add([("a.jpg", b"\xff\xd8 some bytes")], "unknown")
    assert not any(p.is_file() for p in (tmp_path / "lib").rglob("*"))


def test_a_file_that_cannot_be_deleted_puts_the_row_back(tmp_path, monkeypatch):
    store = FakeStore()
    lib = library(tmp_path, store)
    (result,) = lib.add([("a.jpg", b"\xff\xd8 some bytes")], "unknown")
    image_id = result["id"]
    stored = lib.file_of(store.rows[image_id])
    assert stored is not None and stored.is_file()

    def refuse(self, missing_ok=False):
        if self == stored:
            raise PermissionError("read-only file system")

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(FileStoreError):
        lib.delete([image_id])
    assert image_id in store.rows and stored.is_file()  # rolled back: row and file both kept
