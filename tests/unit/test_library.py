"""Library and recycle bin consistency when a step fails: no file without its row, no row
without its file, and every deletion restorable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from search_api.library import FileStoreError, Library
from search_api.recycle import RecycleBin
from services.dataset import content_id
from services.encoder_wire import EncodedImage, ModelInfo
from services.errors import ApiError, DependencyUnavailable
from services.files import PhotoFiles
from services.photo import Photo
from tests.support.fakes import FakeDeleted, FakeVectorStore

MODEL = ModelInfo("efficientnet_lite0", 4, "abc", "imagenet", True, False)


class FakeStore(FakeVectorStore):
    """The shared fake store (its collection made for ``MODEL``), whose writes can fail."""

    def __init__(self, fail_upsert: bool = False, fail_delete: bool = False):
        super().__init__()
        self.stored_model = MODEL
        self.fail_upsert = fail_upsert
        self.fail_delete = fail_delete

    def upsert(self, photos: Sequence[Photo]) -> None:
        if self.fail_upsert:
            raise DependencyUnavailable("milvus", "down")
        super().upsert(photos)

    def delete(self, ids: Sequence[str]) -> None:
        if self.fail_delete:
            raise DependencyUnavailable("milvus", "down")
        super().delete(ids)


class FakeEncoder:
    def encode(self, uploads):
        return MODEL, [EncodedImage(vector=np.ones(4, np.float32) / 2, width=8, height=8)] * len(
            uploads
        )


def library(tmp_path: Path, store: FakeStore) -> Library:
    files = PhotoFiles(tmp_path / "data", tmp_path / "lib")
    return Library(store, FakeEncoder(), files, tmp_path / "thumbs", FakeDeleted())


def dataset_photo(tmp_path: Path, store: FakeStore) -> str:
    """A dataset original, indexed as ingest indexes it."""
    data = b"\xff\xd8 a dataset photo"
    (tmp_path / "data" / "n1-pug").mkdir(parents=True)
    (tmp_path / "data" / "n1-pug" / "a.jpg").write_bytes(data)
    image_id = content_id(data)
    vector = np.full(4, 0.5, np.float32)
    store.photos[image_id] = Photo(image_id, "pug", 7, "n1-pug/a.jpg", 8, 8, "train", "abc", vector)
    return image_id


def test_a_failed_upsert_leaves_no_file_behind(tmp_path):
    lib = library(tmp_path, FakeStore(fail_upsert=True))
    with pytest.raises(DependencyUnavailable):
        lib.add([("a.jpg", b"\xff\xd8 some bytes")], "unknown")
    assert not any(p.is_file() for p in (tmp_path / "lib").rglob("*"))


def test_a_file_that_cannot_go_to_the_trash_puts_the_row_back(tmp_path, monkeypatch):
    store = FakeStore()
    lib = library(tmp_path, store)
    (result,) = lib.add([("a.jpg", b"\xff\xd8 some bytes")], "unknown")
    image_id = result["id"]
    stored = lib.file_of(store.photos[image_id])
    assert stored is not None and stored.is_file()

    def refuse(self, target):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(FileStoreError):
        RecycleBin(lib).delete([image_id])
    assert image_id in store.photos and stored.is_file()  # rolled back: row and file both kept
    assert lib.deleted.get(image_id) is None


def test_a_deleted_library_photo_waits_in_the_trash_until_restored_or_purged(tmp_path):
    store = FakeStore()
    lib = library(tmp_path, store)
    bin_ = RecycleBin(lib)
    data = b"\xff\xd8 library bytes"
    (result,) = lib.add([("a.jpg", data)], "unknown")
    image_id = result["id"]
    home = lib.file_of(store.photos[image_id])
    bin_.delete([image_id])
    assert not home.exists() and lib.files.trash_of(store_path(lib, image_id)).read_bytes() == data
    assert bin_.restore(image_id)["status"] == "restored"
    assert home.read_bytes() == data and image_id in store.photos
    bin_.delete([image_id])
    assert bin_.purge(image_id)["status"] == "purged"
    assert lib.files.trash_of(store_path(lib, image_id)).exists() is False
    with pytest.raises(ApiError):
        bin_.restore(image_id)


def store_path(lib: Library, image_id: str) -> str:
    """The stored path of a library photo, from its record (the row is gone once deleted)."""
    record = lib.deleted.get(image_id)
    return record.path if record else "@library/unknown/" + image_id + ".img"


def test_deleting_a_dataset_original_records_it_and_a_restore_brings_it_back(tmp_path):
    store = FakeStore()
    lib = library(tmp_path, store)
    bin_ = RecycleBin(lib)
    image_id = dataset_photo(tmp_path, store)
    outcome = bin_.delete([image_id])
    assert outcome["deleted"] == [image_id] and outcome["files_kept"] == [image_id]
    assert image_id not in store.photos
    assert (tmp_path / "data" / "n1-pug" / "a.jpg").is_file()  # the original is read-only
    (listed,) = bin_.deleted_photos()
    assert (listed["id"], listed["path"], listed["breed"]) == (image_id, "n1-pug/a.jpg", "pug")
    assert listed["in_library"] is False

    restored = bin_.restore(image_id)
    assert restored["status"] == "restored"
    row = store.photos[image_id]
    assert (row.breed, row.breed_id, row.split) == ("pug", 7, "train")
    assert bin_.deleted_photos() == []
    assert bin_.restore(image_id)["status"] == "exists"  # a second restore changes nothing
    bin_.delete([image_id])
    with pytest.raises(ApiError) as refused:
        bin_.purge(image_id)  # a dataset original stays recorded: ingest must not re-add it
    assert refused.value.code == "read_only_original"


def test_a_failed_delete_forgets_the_deletion_record(tmp_path):
    store = FakeStore(fail_delete=True)
    lib = library(tmp_path, store)
    image_id = dataset_photo(tmp_path, store)
    with pytest.raises(DependencyUnavailable):
        RecycleBin(lib).delete([image_id])
    assert image_id in store.photos and RecycleBin(lib).deleted_photos() == []


def test_restoring_a_photo_whose_file_is_gone_is_a_409_and_keeps_the_record(tmp_path):
    store = FakeStore()
    lib = library(tmp_path, store)
    bin_ = RecycleBin(lib)
    image_id = dataset_photo(tmp_path, store)
    bin_.delete([image_id])
    (tmp_path / "data" / "n1-pug" / "a.jpg").unlink()
    with pytest.raises(ApiError) as refused:
        bin_.restore(image_id)
    assert (refused.value.status, refused.value.code) == (409, "file_missing")
    assert [photo["id"] for photo in bin_.deleted_photos()] == [image_id]
    assert image_id not in store.photos


def original_deleted_then_added(tmp_path: Path):
    """A dataset original deleted, then its file added through the API as a kuvasz."""
    store = FakeStore()
    lib = library(tmp_path, store)
    bin_ = RecycleBin(lib)
    image_id = dataset_photo(tmp_path, store)
    bin_.delete([image_id])
    data = (tmp_path / "data" / "n1-pug" / "a.jpg").read_bytes()
    (added,) = lib.add([("a.jpg", data)], "kuvasz")
    return store, lib, bin_, image_id, data, added


def test_adding_a_deleted_original_again_resolves_its_record(tmp_path):
    store, lib, bin_, image_id, data, added = original_deleted_then_added(tmp_path)
    assert (added["status"], added["breed"]) == ("added", "kuvasz")
    assert bin_.deleted_photos() == []  # one stored truth per id: the live photo
    row = store.photos[image_id]
    assert row.breed == "kuvasz" and lib.file_of(row).read_bytes() == data
    assert bin_.restore(image_id)["status"] == "exists"  # nothing to restore: kuvasz stays
    assert store.photos[image_id].breed == "kuvasz"


def test_adding_a_trashed_library_photo_again_empties_its_trash(tmp_path):
    store = FakeStore()
    lib = library(tmp_path, store)
    bin_ = RecycleBin(lib)
    data = b"\xff\xd8 library bytes"
    image_id = lib.add([("a.jpg", data)], "unknown")[0]["id"]
    bin_.delete([image_id])
    trash = lib.files.trash_of(lib.deleted.get(image_id).path)
    assert trash.is_file()
    assert lib.add([("a.jpg", data)], "kuvasz")[0]["status"] == "added"
    assert not trash.exists() and bin_.deleted_photos() == []
    assert lib.file_of(store.photos[image_id]).read_bytes() == data


def test_a_restore_never_overwrites_a_live_photo(tmp_path):
    store, lib, bin_, image_id, _, _ = original_deleted_then_added(tmp_path)
    lib.deleted.record([replace(store.photos[image_id], breed="pug", path="n1-pug/a.jpg")])
    assert bin_.restore(image_id) == {"status": "exists", "id": image_id}
    assert store.photos[image_id].breed == "kuvasz"
    assert bin_.deleted_photos() == []  # the stale record is gone, not left to mislead
