"""Browser fixtures: the real stack on loopback, Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (``make test-deps``
installs it). Every page records console errors and uncaught exceptions; a test fails if any
appear that it did not expect.
"""

from __future__ import annotations

import shutil

import pytest

from scripts.training import finetune
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ConsoleLog,
    open_page,
    start_indexed_stack,
)
from tests.support.real_photos import copy_sample
from tests.support.synthetic import make_dataset


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"no Chromium at {CHROMIUM}: `make test-deps` installs Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def ui_stack(tmp_path_factory):
    """3 synthetic breeds x 8 photos, indexed by the offline backbone with a fine-tuned head
    (two quick steps of ``scripts/training/finetune.py``), so the page shows breed predictions
    too. One for the session (it takes a fine-tune and an ingest): a test that changes what is
    stored puts it back."""
    images = make_dataset(tmp_path_factory.mktemp("ui-dataset"), per_breed=8)
    checkpoint = tmp_path_factory.mktemp("ui-model") / "finetuned.pt"
    finetune_args = [
        str(images),
        "--arch",
        "efficientnet_lite0",
        "--epochs",
        "1",
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--workers",
        "0",
        "--out",
        str(checkpoint),
    ]
    assert finetune.main(finetune_args) == 0
    stack = start_indexed_stack(
        tmp_path_factory.mktemp("ui-stack"), images, ENCODER_CHECKPOINT=str(checkpoint)
    )
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def real_stack(tmp_path_factory, stanford_sample):
    """The first ``PER_BREED`` photos of each of the 6 breeds of ``../shared/data``, copied to
    a temporary dataset (nothing of the shared data goes into the repository) and indexed by
    the offline backbone with its ImageNet head: the screenshots' stack, and the one where
    the localiser sees real dogs."""
    images = copy_sample(stanford_sample, tmp_path_factory.mktemp("real-dataset") / "Images")
    stack = start_indexed_stack(tmp_path_factory.mktemp("real-stack"), images)
    yield stack
    stack.stop()


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(chromium, ui_stack, console):
    page = open_page(chromium, console, ui_stack.api_url, viewport={"width": 1280, "height": 900})
    yield page
    page.context.close()
    assert console.unexpected() == [], "the page logged errors"
