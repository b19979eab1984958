"""Browser test support: Debian's Chromium through Playwright, page helpers, indexed stacks.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (``make test-deps``
installs it). Every page records console errors and uncaught exceptions.
"""

from __future__ import annotations

import os
from pathlib import Path

from scripts.jobs import ingest
from scripts.stack.local import LocalStack
from tests.support.stack import make_stack

CHROMIUM = Path(os.environ.get("DOGSEARCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def start_indexed_stack(workdir: Path, dataset_root: Path, **encoder_env: str) -> LocalStack:
    """The three services with ``dataset_root`` ingested: what `make up` gives a user."""
    stack = make_stack(
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


def start_api_beside(stack: LocalStack, workdir: Path, **api_env: str) -> LocalStack:
    """A second search API over ``stack``'s Milvus, encoder and library, with settings of its
    own (a write key, say): the same photos behind another door. ``stop()`` stops only it."""
    api = LocalStack(
        workdir,
        stack.dataset_root,
        external_milvus_uri=stack.milvus_uri,
        encoder_port=stack.encoder_port,
        api_env={
            "SEARCH_API_CATALOG_TTL_S": "0.5",
            "SEARCH_API_LIBRARY_DIR": str(stack.workdir / "library"),
            "SEARCH_API_THUMB_CACHE_DIR": str(stack.workdir / "thumbs"),
            **api_env,
        },
    )
    api.start_api()
    return api


class ConsoleLog:
    """Errors the page reported; ``allow`` marks substrings a test expects (e.g. a 400)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        self.allowed.append(text)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


def card_ids(page) -> list[str]:
    """Content ids of the grid's cards, in order, read from their thumbnail URLs."""
    sources = page.locator("#grid img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
    return [source.rsplit("/", 1)[-1] for source in sources]


def card_similarities(page) -> list[float]:
    """The ranked cards' ``similarity`` (what they are ranked by), in order: the cards show
    breed agreement and the look instead, so it is read from their data."""
    return [
        float(v)
        for v in page.locator("#grid .card").evaluate_all(
            "cards => cards.map(c => c.dataset.similarity)"
        )
    ]


def open_page(chromium, console: ConsoleLog, url: str, **context_options):
    context = chromium.new_context(**context_options)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and console.errors.append(m.text))
    page.on("pageerror", lambda e: console.errors.append(f"uncaught: {e}"))
    page.set_default_timeout(20_000)
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


def answer_confirm(page, *, accept: bool) -> str:
    """Answer the page's own "Are you sure?" dialog (``confirm-dialog.js``): its confirm button
    or Cancel. Returns the question it asked, title and message."""
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for(state="visible")
    title = page.locator("#confirm-title").inner_text()
    question = f"{title} {page.locator('#confirm-message').inner_text()}"
    dialog.locator("#confirm-ok" if accept else "#confirm-cancel").click()
    dialog.wait_for(state="hidden")
    return question
