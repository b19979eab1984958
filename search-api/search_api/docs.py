"""``/api/openapi.json`` and ``/api/docs``: the API described for programs and for people.

Both come from one document, generated once per app from the routes' declarations
(:mod:`search_api.openapi`); the page is rendered on the server, with no script and nothing
from another site, so it works offline. The routes that :mod:`services` adds to this app
(health, metrics) are declared here, since their views are shared with the encoder.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from search_api.collaborators import collaborators
from search_api.docs_page import CSS, endpoints, with_code
from search_api.openapi import TITLE, VERSION, build_document
from search_api.operations import Example, Reply, operation
from search_api.replies import STRING, record, ref

docs = Blueprint("docs", __name__, url_prefix="/api", template_folder="templates")
CHECKS = {"type": "object", "additionalProperties": STRING}
DOCUMENT = {"type": "object", "required": ["openapi", "info", "paths"]}


def document() -> dict[str, Any]:
    """This app's OpenAPI document, built on first use (its settings do not change)."""
    cache = collaborators().openapi
    if not cache:
        cache.update(build_document(current_app))
    return cache


@docs.get("/openapi.json")
@operation(
    "This API's OpenAPI 3.1 document",
    tag="docs",
    replies=(
        Reply(
            200,
            "The document, with this service's limits.",
            DOCUMENT,
            {"openapi": "3.1.0", "info": {"title": TITLE, "version": VERSION}, "paths": {}},
        ),
    ),
    examples=(Example("The document"),),
)
def openapi_json():
    return jsonify(document())


@docs.get("/docs")
@operation(
    "This API's reference, as a web page",
    tag="docs",
    replies=(
        Reply(
            200, "Every endpoint: parameters, answers, error codes, examples.", media="text/html"
        ),
    ),
    examples=(Example("The page"),),
)
def docs_page():
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


SERVICE_OPERATIONS = {
    "health.healthz": operation(
        "Liveness: the process answers",
        tag="health",
        replies=(Reply(200, "Alive.", record({"status": {"const": "ok"}}), {"status": "ok"}),),
        examples=(Example("Alive?"),),
    ),
    "health.readyz": operation(
        "Readiness: the encoder and Milvus answer and the index matches the encoder's model",
        tag="health",
        replies=(
            Reply(
                200,
                "Ready to search.",
                record({"status": {"const": "ready"}, "checks": CHECKS}),
                {"status": "ready", "checks": {"encoder": "ok", "milvus": "ok", "index": "ok"}},
            ),
            Reply(
                503,
                "Not ready: checks says what is wrong, error names the first problem.",
                record(
                    {
                        "status": {"const": "not_ready"},
                        "checks": CHECKS,
                        "error": ref("ErrorDetail"),
                    }
                ),
                {
                    "status": "not_ready",
                    "checks": {"encoder": "cannot connect to http://encoder:8001", "milvus": "ok"},
                    "error": {
                        "code": "encoder_unavailable",
                        "message": "cannot connect to http://encoder:8001",
                    },
                },
            ),
        ),
        examples=(Example("Ready?"),),
    ),
    "metrics": operation(
        "Prometheus metrics: requests, latencies, errors by code",
        tag="health",
        replies=(Reply(200, "Prometheus text exposition format.", media="text/plain"),),
        examples=(Example("Scrape"),),
    ),
}


def document_service_routes(app: Flask) -> None:
    """Attach the declarations of the routes :mod:`services` added to ``app``."""
    for endpoint, declare in SERVICE_OPERATIONS.items():
        declare(app.view_functions[endpoint])
