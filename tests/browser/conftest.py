"""Browser fixtures: the real stack on loopback, Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (``make test-deps``
installs it). Every page records console errors and uncaught exceptions; a test fails if any
appear that it did not expect.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from scripts.jobs import ingest
from scripts.stack.local import LocalStack
from scripts.training import finetune
from tests.support.synthetic import make_dataset

CHROMIUM = Path(os.environ.get("DOGSEARCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


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


def start_indexed_stack(workdir: Path, dataset_root: Path, **encoder_env: str) -> LocalStack:
    """The three services with ``dataset_root`` ingested: what `make up` gives a user."""
    stack = LocalStack(
        workdir,
        dataset_root,
        encoder_env={"ENCODER_ARCH": "efficientnet_lite0", "ENCODER_THREADS": "2", **encoder_env},
        api_env={"SEARCH_API_CATALOG_TTL_S": "0.5"},
    )
    stack.start()
    try:
        assert ingest.main(stack.ingest_args("--no-progress")) == 0
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory):
    """3 synthetic breeds x 8 photos, indexed by the offline backbone with a fine-tuned head
    (two quick steps of ``scripts/training/finetune.py``), so the page shows breed predictions
    too."""
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


class ConsoleLog:
    """Errors the page reported; ``allow`` marks substrings a test expects (e.g. a 400)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        self.allowed.append(text)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


def card_ids(page) -> list[str]:
    """Content ids of the grid's cards, in order, read from their thumbnail URLs."""
    sources = page.locator("#grid img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
    return [source.rsplit("/", 1)[-1] for source in sources]


def open_page(chromium, console: ConsoleLog, url: str, **context_options):
    context = chromium.new_context(**context_options)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and console.errors.append(m.text))
    page.on("pageerror", lambda e: console.errors.append(f"uncaught: {e}"))
    page.set_default_timeout(20_000)
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


@pytest.fixture
def page(chromium, ui_stack, console):
    page = open_page(chromium, console, ui_stack.api_url, viewport={"width": 1280, "height": 900})
    yield page
    page.context.close()
    assert console.unexpected() == [], "the page logged errors"
