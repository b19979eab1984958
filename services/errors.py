"""One error format for every HTTP answer: ``{"error": {"code", "message"}}``.

Views raise :class:`ApiError` (or a subclass); :func:`register_error_handlers` turns it, and
every werkzeug ``HTTPException``, into that JSON body so no client ever has to parse HTML.
Unexpected exceptions become a logged 500 with a generic message, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from services.metrics import ERRORS

log = logging.getLogger(__name__)

# werkzeug's status -> our machine-readable code, for errors raised by Flask itself.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error with an HTTP status and a stable ``code`` that clients and tests match on."""

    status = 400
    code = "bad_request"

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


class Overloaded(ApiError):
    status = 503
    code = "overloaded"


def error_response(status: int, code: str, message: str):
    ERRORS.labels(code).inc()
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        if error.status >= 500:
            log.warning("request failed", extra={"code": error.code, "detail": error.message})
        return error_response(error.status, error.code, error.message)

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
