"""``/api/openapi.json`` and ``/api/docs``: the API described for programs and for people.

Both come from one document, made once per app (:mod:`search_api.openapi`); the page is
rendered on the server, with no script and nothing from another site, so it works offline.
The routes that :mod:`services` adds to this app (health, metrics) are declared here, since
their views are shared with the encoder.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Literal

from flask import Blueprint, Flask, current_app, render_template, request
from pydantic import BaseModel, ConfigDict

from search_api.answers import ErrorDetail, example
from search_api.collaborators import collaborators
from search_api.docs_page import CSS, endpoints, with_code
from search_api.openapi import build_document
from search_api.spec import TITLE, VERSION, Example, endpoint

docs = Blueprint("docs", __name__, url_prefix="/api", template_folder="templates")


class Document(BaseModel):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"openapi": "3.1.0", "info": {"title": TITLE, "version": VERSION}, "paths": {}}
            ]
        },
    )


class Alive(BaseModel):
    status: Literal["ok"]
    model_config = example({"status": "ok"})


class Ready(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]
    model_config = example(
        {"status": "ready", "checks": {"encoder": "ok", "milvus": "ok", "index": "ok"}}
    )


class NotReady(BaseModel):
    """checks says what is wrong, error names the first problem."""

    status: Literal["not_ready"]
    checks: dict[str, str]
    error: ErrorDetail
    model_config = example(
        {
            "status": "not_ready",
            "checks": {"encoder": "cannot connect to http://encoder:8001", "milvus": "ok"},
            "error": {
                "code": "encoder_unavailable",
                "message": "cannot connect to http://encoder:8001",
            },
        }
    )


def document() -> dict[str, Any]:
    """This app's OpenAPI document, built on first use (its settings do not change)."""
    cache = collaborators().openapi
    if not cache:
        cache.update(build_document(current_app))
    return cache


@docs.get("/openapi.json")
@endpoint(
    tag="docs",
    answers={200: (Document, "The document, with this service's limits.")},
    examples=(Example("The document"),),
)
def openapi_json():
    """This API's OpenAPI 3.1 document"""
    return document()


@docs.get("/docs")
@endpoint(
    tag="docs",
    answers={200: (None, "Every endpoint: parameters, answers, error codes, examples.")},
    media={200: "text/html"},
    examples=(Example("The page"),),
)
def docs_page():
    """This API's reference, as a web page"""
    spec = document()
    page = render_template(
        "api_docs.html",
        css=CSS,
        info=spec["info"],
        description=with_code(spec["info"]["description"]),
        openapi=spec["openapi"],
        endpoints=endpoints(spec, request.url_root.rstrip("/")),
    )
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    response = current_app.response_class(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )
    return response


SERVICE_ROUTES = {
    "health.healthz": (
        "Liveness: the process answers",
        endpoint(tag="health", answers={200: (Alive, "Alive.")}, examples=(Example("Alive?"),)),
    ),
    "health.readyz": (
        "Readiness: the encoder and Milvus answer and the index matches the encoder's model",
        endpoint(
            tag="health",
            answers={
                200: (Ready, "Ready to search."),
                503: (
                    NotReady,
                    "Not ready: checks says what is wrong, error names the first problem.",
                ),
            },
            examples=(Example("Ready?"),),
        ),
    ),
    "metrics": (
        "Prometheus metrics: requests, latencies, errors by code",
        endpoint(
            tag="health",
            answers={200: (None, "Prometheus text exposition format.")},
            media={200: "text/plain"},
            examples=(Example("Scrape"),),
        ),
    ),
}


def document_service_routes(app: Flask) -> None:
    """Declare the routes :mod:`services` added to ``app``: their views, wrapped."""
    for name, (summary, declare) in SERVICE_ROUTES.items():
        wrapped = declare(app.view_functions[name])
        wrapped.__doc__ = summary
        app.view_functions[name] = wrapped
