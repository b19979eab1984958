"""The search API's application factory: JSON API, image files and the frontend at ``/``."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask, send_from_directory

from search_api.api import api
from search_api.auth import require_write_key
from search_api.collaborators import Collaborators, build, install
from search_api.config import SearchApiSettings, load_settings
from search_api.docs import docs, document_service_routes
from search_api.file_routes import files
from search_api.library_routes import library
from search_api.remote import UrlFetcher
from search_api.why import why
from services.consistency import MARKER_NAME, ChangeMarker, ReadConsistency
from services.deleted import DeletedPhotos
from services.encoder_client import EncoderClient
from services.errors import register_error_handlers
from services.health import health_blueprint
from services.logs import configure_logging
from services.metrics import install_metrics
from services.protocols import DeletedRecords, Encoder, PhotoStore
from services.vectorstore import VectorStore, check_same_model

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_app(
    settings: SearchApiSettings | None = None,
    *,
    store: PhotoStore | None = None,
    encoder: Encoder | None = None,
    deleted: DeletedRecords | None = None,
    fetcher: UrlFetcher | None = None,
    warm: bool = True,
) -> Flask:
    """Build the app. Its outer collaborators (the vector store, the encoder client, the
    deleted-photo records and the URL fetcher) are made from ``settings`` unless given: the unit
    tests pass small in-memory fakes and exercise every endpoint without Milvus or the encoder.
    Views reach them through :func:`search_api.collaborators.collaborators`."""
    settings = settings or load_settings()
    configure_logging("search-api", settings.log_level)
    marker = ChangeMarker(settings.library_dir / MARKER_NAME)
    consistency = ReadConsistency(marker, settings.milvus.strong_after_write_s)
    deps = build(
        settings,
        marker,
        store or VectorStore(settings.milvus, consistency=consistency),
        encoder
        or EncoderClient(
            settings.encoder.urls, settings.encoder.timeout_s, settings.encoder.spread_dns
        ),
        deleted or DeletedPhotos(settings.milvus),
        fetcher or UrlFetcher(settings.url_fetch_timeout_s, settings.max_upload_bytes),
    )
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 64 * 1024
    install(app, deps)
    register_error_handlers(app)
    install_metrics(app)
    require_write_key(app)  # after metrics, so a refused write is counted like any answer
    app.register_blueprint(health_blueprint(lambda: _readiness(deps)))
    app.register_blueprint(api)
    app.register_blueprint(library)
    app.register_blueprint(why)
    app.register_blueprint(files)
    app.register_blueprint(docs)
    document_service_routes(app)

    serve_frontend(app, settings.frontend_dir.resolve())
    if warm:
        threading.Thread(target=_warm, args=(deps.store,), name="warm-milvus", daemon=True).start()
    log.info("search-api ready", extra={"settings": settings.model_dump(mode="json")})
    return app


def serve_frontend(app: Flask, frontend: Path) -> None:
    """The page at ``/`` and its files at ``/static/``, every answer with the security headers."""

    @app.get("/")
    def index():
        return send_from_directory(frontend, "index.html", max_age=0)

    @app.get("/static/<path:name>")
    def static_file(name: str):
        return send_from_directory(frontend, name, max_age=300)  # refuses paths outside

    @app.after_request
    def _security_headers(response):
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response


def _warm(store: PhotoStore) -> None:
    """Load the collection in the background, so the first search after a start is not slow."""
    try:
        store.warm()
    except Exception as error:  # Milvus may not be up yet; the first request will load it
        log.warning("could not warm the collection", extra={"reason": str(error)})
    else:
        log.info("collection warm", extra={"collection": store.collection})


def _readiness(deps: Collaborators) -> dict[str, str | None]:
    checks: dict[str, str | None] = {
        "encoder": deps.encoder.ready(),
        "milvus": deps.store.ready(),
    }
    if checks["encoder"] is None and checks["milvus"] is None:
        try:
            stored = deps.search.collection_model()
            if stored is not None:
                check_same_model(stored, deps.encoder.info(), deps.store.collection)
        except Exception as error:
            checks["index"] = str(getattr(error, "message", error))
        else:
            checks["index"] = None
    return checks
