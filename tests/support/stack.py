"""Stacks for tests: every one is made here, on the Milvus backend chosen for the run.

``pytest --milvus=server`` (or ``DOGSEARCH_TEST_MILVUS=server``) runs the integration tests
against the Milvus server binary instead of Milvus Lite; ``tests/conftest.py`` sets the
variable from the option, and :func:`make_stack` reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from scripts.stack.local import LocalStack
from services.consistency import MARKER_NAME, ChangeMarker, ReadConsistency
from services.settings import MilvusSettings
from services.vectorstore import VectorStore

BACKEND_VARIABLE = "DOGSEARCH_TEST_MILVUS"
BACKENDS = ("lite", "server")
# The test server ticks every second (Milvus's default is 200 ms), so a read that is not
# strongly consistent misses a write made just before it nearly every time, not once in a while:
# the tests of read-your-writes fail if a consistency level is weakened.
SERVER_SETTINGS = ["proxy.timeTickInterval=1000"]


def milvus_backend() -> str:
    return os.environ.get(BACKEND_VARIABLE, "lite")


def make_stack(workdir: Path, dataset_root: Path, **options) -> LocalStack:
    backend = milvus_backend()
    settings = SERVER_SETTINGS if backend == "server" else []
    return LocalStack(
        workdir, dataset_root, milvus_backend=backend, milvus_settings=settings, **options
    )


def store_of(stack: LocalStack, collection: str | None = None) -> VectorStore:
    """The stack's store, made as the product's writers make theirs: a write through it moves
    the change marker of the stack's library, so the API reads strongly right after it."""
    settings = MilvusSettings(uri=stack.milvus_uri)
    marker = ChangeMarker(stack.workdir / "library" / MARKER_NAME)
    return VectorStore(settings, collection, ReadConsistency(marker, settings.strong_after_write_s))


def stored_ids(stack: LocalStack, collection: str | None = None) -> list[str]:
    return [row.id for row in store_of(stack, collection).all_rows()]


def write_annotation(path: Path, width: int, height: int, *boxes: tuple[int, ...]) -> None:
    """A Stanford Dogs annotation (PASCAL VOC XML) with these dog boxes."""
    objects = "".join(
        f"<object><name>dog</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for b in boxes
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<annotation><size><width>{width}</width><height>{height}</height></size>"
        f"{objects}</annotation>"
    )
