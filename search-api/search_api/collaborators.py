"""The search API's collaborators: one typed object, built by the factory, reached one way.

Views call :func:`collaborators` and use its fields; each field is a service object the view
talks to directly (no view reaches through one to another's parts). Tests give the factory
fakes of the store, the encoder, the deleted-photo records and the URL fetcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from search_api.catalog import Catalog
from search_api.config import SearchApiSettings
from search_api.duplicates import DuplicateFinder
from search_api.library import Library
from search_api.lookup import PhotoLookup
from search_api.recycle import RecycleBin
from search_api.remote import UrlFetcher
from search_api.search import SearchService
from services.consistency import ChangeMarker
from services.files import PhotoFiles
from services.protocols import DeletedRecords, Encoder, PhotoStore

EXTENSION = "dogsearch"  # the one key under app.extensions


@dataclass
class Collaborators:
    settings: SearchApiSettings
    store: PhotoStore
    encoder: Encoder
    search: SearchService
    catalog: Catalog
    fetcher: UrlFetcher
    library: Library
    recycle: RecycleBin
    duplicates: DuplicateFinder
    photos: PhotoLookup
    openapi: dict[str, Any] = field(default_factory=dict)  # the document, built on first use


def build(
    settings: SearchApiSettings,
    marker: ChangeMarker,
    store: PhotoStore,
    encoder: Encoder,
    deleted: DeletedRecords,
    fetcher: UrlFetcher,
) -> Collaborators:
    """Every service object of one app, wired to the same store, encoder and catalogue."""
    catalog = Catalog(store, settings.catalog_ttl_s, marker)
    search = SearchService(store, encoder, catalog)
    files = PhotoFiles(settings.dataset_root, settings.library_dir)
    library = Library(store, encoder, files, settings.thumb_cache_dir, deleted)
    return Collaborators(
        settings=settings,
        store=store,
        encoder=encoder,
        search=search,
        catalog=catalog,
        fetcher=fetcher,
        library=library,
        recycle=RecycleBin(library),
        duplicates=DuplicateFinder(store, marker),
        photos=PhotoLookup(catalog, search, store, files, deleted),
    )


def install(app: Flask, found: Collaborators) -> None:
    app.extensions[EXTENSION] = found


def collaborators(app: Flask | None = None) -> Collaborators:
    """This app's collaborators (the current app's inside a request)."""
    return (app or current_app).extensions[EXTENSION]
