"""Ingest can encode only the dogs' bounding boxes (off by default)."""

from __future__ import annotations

import numpy as np
import pytest

from scripts.jobs import ingest
from services.dataset import content_id, iter_image_files
from services.encoder_client import EncoderClient
from services.imaging import crop_fraction
from services.settings import MilvusSettings
from services.vectorstore import VectorStore
from tests.support.stack import write_annotation

pytestmark = [pytest.mark.integration, pytest.mark.milvus]


def test_ingest_crops_to_the_annotated_box_and_keeps_the_original_size(stack, tmp_path):
    annotations = tmp_path / "Annotation"
    files = list(iter_image_files(stack.dataset_root))[:6]
    for file in files:
        folder, _, name = file.relative_path.rpartition("/")
        write_annotation(annotations / folder / name.rsplit(".", 1)[0], 320, 240, (0, 0, 160, 240))
    argv = stack.ingest_args(
        "--no-progress",
        "--collection",
        "dogs_boxes",
        "--crop-to-box",
        "--annotations",
        str(annotations),
        "--limit",
        "6",
    )
    assert ingest.main(argv) == 0
    store = VectorStore(MilvusSettings(uri=stack.milvus_uri), "dogs_boxes")
    try:
        rows = {
            row.id: row
            for row in store.get(
                [content_id(f.path.read_bytes()) for f in files], with_vectors=True
            )
        }
        assert len(rows) == 6
        client = EncoderClient([stack.encoder_url], timeout_s=60)
        data = files[0].path.read_bytes()
        _, (left_half,) = client.encode([("crop.png", crop_fraction(data, (0, 0, 0.5, 1)))])
        _, (whole,) = client.encode([("whole.jpg", data)])
        stored = rows[content_id(data)]
        assert (stored.width, stored.height) == (320, 240)
        vector = np.asarray(stored.vector, dtype=np.float32)
        assert float(vector @ left_half.vector) > 0.9999
        assert float(vector @ whole.vector) < 0.999
    finally:
        store.drop()
