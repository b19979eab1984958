"""A stored photo is built from an encoded file in one place, and survives its Milvus row."""

from __future__ import annotations

import numpy as np

from services.encoder_wire import EncodedImage, ModelInfo
from services.photo import Photo

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
