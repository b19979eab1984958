"""A stored photo is built from an encoded file in one place, and survives its Milvus row."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from services.encoder_wire import EncodedImage, ModelInfo
from services.photo import FIELD_NAMES, Photo

MODEL = ModelInfo("resnet152", 4, "abc123", "random")


def test_an_encoded_file_becomes_a_row_that_reads_back_as_the_same_photo():
    vector = np.array([0.5, 0.5, 0.5, 0.5], np.float32)
    result = EncodedImage(vector=vector, width=640, height=480)
    photo = Photo.encoded("id1", "Beagle", 3, "n0/a.jpg", model=MODEL, result=result, split="train")
    assert (photo.width, photo.height, photo.fingerprint, photo.split) == (
        640,
        480,
        "abc123",
        "train",
    )
    back = Photo.from_row(photo.to_row())
    assert back.to_json() == photo.to_json()
    assert back.fingerprint == "abc123" and np.array_equal(back.vector, vector)


def test_the_deleted_photo_records_use_the_photos_own_field_specs():
    from services import deleted, photo

    recorded = [field for field in deleted.FIELDS if field.name != "deleted_at"]
    assert [field.name for field in recorded] == ["breed", "breed_id", "path", "split"]
    assert all(field in photo.FIELDS for field in recorded)


def test_the_photo_declares_the_stored_fields_in_their_order():
    """``Photo.from_row`` passes a row's fields by position, in :data:`FIELD_NAMES` order."""
    names = [field.name for field in dataclasses.fields(Photo)]
    assert names == ["id", *FIELD_NAMES, "vector"]


def test_a_photo_cannot_change_under_the_catalogue():
    photo = Photo("id1", "Beagle", 3, "n0/a.jpg", 640, 480)
    with pytest.raises(dataclasses.FrozenInstanceError):
        photo.breed = "pug"  # type: ignore[misc]
    relabelled = photo.labelled("pug", 7)
    assert (photo.breed, relabelled.breed, relabelled.breed_id) == ("Beagle", "pug", 7)
    assert relabelled.scalars() == {**photo.scalars(), "breed": "pug", "breed_id": 7}
