"""One error format for every HTTP answer: ``{"error": {"code", "message"}}``.

Views raise :class:`ApiError` (or a subclass); :func:`register_error_handlers` turns it, and
every werkzeug ``HTTPException``, into that JSON body so no client ever has to parse HTML.
Unexpected exceptions become a logged 500 with a generic message, never a traceback.

A URL longer than :data:`MAX_URL_CHARS` is answered with a JSON 414 ``uri_too_long`` before
routing. gunicorn answers request lines over its ``limit_request_line`` itself, in HTML, before
the app sees them; both services' gunicorn configs raise it to gunicorn's maximum,
:data:`GUNICORN_REQUEST_LINE`, which leaves room above our limit for the method and protocol.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestURITooLarge

from services.metrics import ERRORS

log = logging.getLogger(__name__)

# The longest request target (path and query string, percent-encoded, as sent) a service
# answers; 8,000 is what RFC 9110 recommends every HTTP party supports.
MAX_URL_CHARS = 8000
# gunicorn's maximum limit_request_line: the longest request line it reads at all. A method
# (gunicorn allows 20 characters), a URL of MAX_URL_CHARS + 1 and " HTTP/1.1" fit within it,
# so a URL one character over our limit still reaches the app and gets the JSON 414.
GUNICORN_REQUEST_LINE = 8190

# werkzeug's status -> our machine-readable code, for errors raised by Flask itself.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error with an HTTP status and a stable ``code`` that clients and tests match on."""

    status = 400
    code = "bad_request"
    headers: dict[str, str] = {}  # sent with the answer (e.g. WWW-Authenticate on a 401)

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class NotFound(ApiError):
    status = 404
    code = "not_found"


class InvalidImage(ApiError):
    """The upload is not a decodable image (or is one we refuse to decode)."""

    status = 400
    code = "invalid_image"


class DependencyUnavailable(ApiError):
    """A service we depend on is down: 503, and the code names which one."""

    status = 503

    def __init__(self, dependency: str, detail: str):
        super().__init__(f"{dependency} is unavailable: {detail}", code=f"{dependency}_unavailable")
        self.dependency = dependency


class DependencyTimeout(ApiError):
    status = 504

    def __init__(self, dependency: str, detail: str):
        super().__init__(f"{dependency} timed out: {detail}", code=f"{dependency}_timeout")
        self.dependency = dependency


class Unauthorized(ApiError):
    """The request needs a credential it lacks or got wrong: 401, with the scheme to use."""

    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="dogsearch"'}


class Overloaded(ApiError):
    status = 503
    code = "overloaded"


def error_response(status: int, code: str, message: str):
    ERRORS.labels(code).inc()
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def url_chars(environ: dict[str, Any]) -> int:
    """The length of the request target as the client sent it (percent-encoded)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return len(raw)
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    query = environ.get("QUERY_STRING", "")
    return len(quote(path, safe="/%:@!$&'()*+,;=~")) + (len(query) + 1 if query else 0)


def refuse_long_urls() -> None:
    """Before routing: a URL over :data:`MAX_URL_CHARS` is a 414, in the one error format."""
    length = url_chars(request.environ)
    if length > MAX_URL_CHARS:
        raise RequestURITooLarge(
            f"the URL has {length:,} characters; the limit is {MAX_URL_CHARS:,} "
            "(send long values in a POST body)"
        )


def register_error_handlers(app: Flask) -> None:
    app.before_request(refuse_long_urls)

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        if error.status >= 500:
            log.warning("request failed", extra={"code": error.code, "detail": error.message})
        response = error_response(error.status, error.code, error.message)
        response.headers.update(error.headers)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        response = error_response(status, code, error.description or error.name)
        # The exception's own headers are part of the answer (RFC 9110): a 405's Allow, a
        # 416's Content-Range, a 401's WWW-Authenticate, a 429's Retry-After.
        for name, value in error.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; see the service log")
