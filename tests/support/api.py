"""The search API in-process, over fakes: what ``tests/unit/test_api_*`` exercise.

A small synthetic dataset is indexed by the real ingester (through the fake encoder into the
fake store), so rows are made exactly as ingest makes them; the app is the real app factory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from scripts.jobs.ingester import Ingester
from search_api.app import create_app
from search_api.config import SearchApiSettings
from services.dataset import ImageFile, content_id, iter_image_files
from tests.support.fakes import FakeDeleted, FakeEncoder, FakeFetcher, FakeVectorStore
from tests.support.synthetic import BREED_FOLDERS, make_dataset


@dataclass
class ApiUnderTest:
    app: Flask
    client: FlaskClient
    store: FakeVectorStore
    encoder: FakeEncoder
    deleted: FakeDeleted
    fetcher: FakeFetcher
    settings: SearchApiSettings
    files: list[ImageFile]

    def id_of(self, file: ImageFile) -> str:
        return content_id(file.path.read_bytes())

    def ids_of_breed(self, breed: str) -> list[str]:
        return [self.id_of(f) for f in self.files if f.breed == breed]


def api_under_test(
    tmp_path: Path,
    per_breed: int = 4,
    encoder: FakeEncoder | None = None,
    breeds: tuple[str, ...] = BREED_FOLDERS,
    **settings: object,
) -> ApiUnderTest:
    images = make_dataset(tmp_path / "dataset", per_breed=per_breed, breeds=breeds)
    config = SearchApiSettings(
        dataset_root=images,
        library_dir=tmp_path / "library",
        thumb_cache_dir=tmp_path / "thumbs",
        **settings,
    )
    store, encoder, deleted, fetcher = (
        FakeVectorStore(),
        encoder or FakeEncoder(),
        FakeDeleted(),
        FakeFetcher(),
    )
    files = list(iter_image_files(images))
    store.ensure_collection(encoder.model)
    Ingester(encoder, store, encoder.model, deleted=deleted, progress=False).run(files)
    app = create_app(
        config, store=store, encoder=encoder, deleted=deleted, fetcher=fetcher, warm=False
    )
    app.testing = True
    return ApiUnderTest(app, app.test_client(), store, encoder, deleted, fetcher, config, files)
