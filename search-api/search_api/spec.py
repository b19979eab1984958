"""Each endpoint declared once, with spectree: its request models, its answers, its errors.

:func:`endpoint` goes below the route decorator. It hands the request models
(:mod:`search_api.schemas`) and answer models (:mod:`search_api.answers`) to spectree, which
validates each request before the view runs and each answer after, and generates the OpenAPI
document from them; the summary is the view docstring's first line, the rest its description.
What spectree has no words for stays here, on the same declaration: the error codes a route may
answer (from :data:`ERRORS`), example requests (which the tests send), and whether a POST only
reads (:func:`is_write`: every method but GET, HEAD and OPTIONS writes unless declared
``read_only``, so a new POST route needs the write key until it is declared harmless).

A request that breaks its models is answered in our error format by :func:`refuse`:
``invalid_<field>`` (or the code the model names) with a message that says what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Response as FlaskResponse
from flask import current_app, request
from pydantic import ValidationError
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree
from spectree.models import SecureType
from spectree.plugins.flask_plugin import FlaskPlugin

from search_api.answers import Error
from search_api.schemas import Request
from services.errors import MAX_URL_CHARS, ApiError, NotFound

View = TypeVar("View", bound=Callable[..., Any])
Part = TypeVar("Part", bound=Request)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_KEY = "writeKey"  # the security scheme every write route declares
TITLE = "dogsearch search API"
VERSION = "1.0.0"  # the API contract's version: bump it on a change that breaks clients
DESCRIPTION = (
    "Reverse image search of dog photos: search by photo or URL, browse, and manage the "
    'library. Every error is JSON: `{"error": {"code", "message"}}`; clients match on `code`. '
    f"A URL (path and query string) over {MAX_URL_CHARS:,} characters gets a 414 `uri_too_long`."
)


@dataclass(frozen=True)
class Example:
    """A request worth showing, which the tests also send: values by parameter name.

    ``form`` values that start with ``@`` are files (curl's syntax); ``status`` is the answer
    it gets on a running service with the photo the path names.
    """

    summary: str
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    form: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    status: int = 200


@dataclass(frozen=True)
class Declared:
    """What a route declares besides its spectree models."""

    errors: tuple[str, ...]
    examples: tuple[Example, ...]
    read_only: bool
    media: dict[int, str]  # answers that are not JSON: status -> media type
    parts: dict[str, type[Request]]  # "query", "form", "json" -> its model

    def model(self, title: str) -> type[Request] | None:
        return next((m for m in self.parts.values() if m.__name__ == title), None)


def refuse(req: Any, resp: Any, error: Exception | None, instance: Any, adapter: Any) -> None:
    """spectree's ``before`` hook: a request its models refuse becomes our error answer."""
    view = current_app.view_functions.get(req.url_rule.endpoint) if req.url_rule else None
    found = declared(view) if view is not None else None
    if found is None:
        return
    needs_json = "json" in found.parts and ("form" not in found.parts or req.is_json)
    if needs_json and not (req.is_json and isinstance(req.get_json(silent=True), dict)):
        raise ApiError("send a JSON object (Content-Type: application/json)", code="invalid_json")
    if isinstance(error, ValidationError):
        raise refusal(error, found.model(error.title))


def refusal(error: ValidationError, model: type[Request] | None) -> ApiError:
    """The first thing wrong with a request, in our words and codes."""
    first = error.errors(include_url=False)[0]
    kind, loc, ctx, given = first["type"], first["loc"], first.get("ctx") or {}, first["input"]
    name = str(loc[0]) if loc else ""
    if model is None or name not in model.model_fields:  # the body is no JSON object
        return ApiError("send a JSON object (Content-Type: application/json)", code="invalid_json")
    code = model.code_of(name)
    shown = repr(str(given)[:40])
    if kind == "string_pattern_mismatch" and len(loc) > 1:  # an id in a list: not stored
        return NotFound(f"no image with id {str(given)[:80]!r}")
    if kind == "too_long":
        return ApiError(
            f"at most {ctx['max_length']} values of {name!r} per request", code=code, status=413
        )
    if kind in ("int_parsing", "int_from_float", "int_type"):
        message = f"{name} must be an integer, got {shown}"
    elif kind in ("float_parsing", "float_type"):
        message = f"{name} must be a number, got {shown}"
    elif kind in ("greater_than_equal", "less_than_equal", "finite_number"):
        low, high = model.bounds(name)
        message = f"{name} must be between {low} and {high}"
    elif kind in ("bool_parsing", "bool_type"):
        message = f"{name} must be true or false, got {shown}"
    elif kind == "list_type":
        message = f"{name!r} must be a list of image ids"
    elif kind in ("string_type", "missing"):
        message = f"give {name!r} as a string"
    else:
        message = f"{name}: {first['msg']}"
    return ApiError(message, code=code)


class FlaskFiles(FlaskPlugin):
    """spectree's Flask plugin, passing a file or a page through untouched: spectree would
    read a streamed file into memory and reset a 304 or 206 to 200."""

    def validate_response(
        self, resp: Any, resp_model: Any, skip_validation: bool, force_resp_serialize: bool
    ) -> Any:
        if skip_validation and isinstance(resp, FlaskResponse):
            return resp, None
        return super().validate_response(resp, resp_model, skip_validation, force_resp_serialize)


spec = SpecTree(
    "flask",
    backend=FlaskFiles,
    mode="strict",  # only declared routes are documented; the others are listed as such
    title=TITLE,
    version=VERSION,
    description=DESCRIPTION,
    page_templates={},  # the reference page is ours (/api/docs): it works offline
    annotations=False,  # views read what spectree validated with :func:`given`
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    validation_error_status=400,
    validation_error_model=Error,
    before=refuse,
    security_schemes=[
        SecurityScheme(
            name=WRITE_KEY,
            data=SecuritySchemeData(
                type=SecureType.HTTP,
                scheme="bearer",
                description=(
                    "The write key, `Authorization: Bearer <key>`: needed by every write when "
                    "the service runs with SEARCH_API_WRITE_KEY set (GET /api/stats says so: "
                    "`writes` is `key`). Reads never need it."
                ),
            ),
        )
    ],
)
ATTRIBUTE = "declared"


def endpoint(
    *,
    tag: str,
    answers: dict[int, Any],
    query: type[Request] | None = None,
    form: type[Request] | None = None,
    json: type[Request] | None = None,
    errors: tuple[str, ...] = (),
    examples: tuple[Example, ...] = (),
    read_only: bool = False,
    media: dict[int, str] | None = None,
) -> Callable[[View], View]:
    """Declare the decorated view. ``answers``: status -> an answer model, or ``(model or
    None, description)``; ``media``: the answers that are files or pages, not JSON, which
    pass through unchecked."""
    unknown = [code for code in errors if code not in ERRORS]
    if unknown:  # at import: an undocumented code is a programming error
        raise ValueError(f"error codes missing from spec.ERRORS: {unknown}")
    parts = {name: m for name, m in (("query", query), ("form", form), ("json", json)) if m}
    found = Declared(errors, examples, read_only, dict(media or {}), parts)
    validate = spec.validate(
        **parts,  # type: ignore[arg-type]
        resp=Response(**{f"HTTP_{status}": answer for status, answer in answers.items()}),
        tags=[tag],
        skip_validation=bool(media),
    )

    def attach(view: View) -> View:
        wrapped = validate(view)
        setattr(wrapped, ATTRIBUTE, found)
        return wrapped

    return attach


def given(model: type[Part]) -> Part | None:
    """This request's part that ``model`` validated (its query, form or JSON body); None when
    the request has no such part (a form-only route sent JSON)."""
    context = getattr(request, "context", None)
    for part in (context.query, context.form, context.json) if context else ():
        if isinstance(part, model) and type(part) is model:
            return part
    return None


def declared(view: Callable[..., Any]) -> Declared | None:
    return getattr(view, ATTRIBUTE, None)


def is_write(method: str, found: Declared | None) -> bool:
    """Whether ``method`` on a route declared so changes state (undeclared: it may)."""
    if method.upper() in SAFE_METHODS:
        return False
    return found is None or not found.read_only


# Every error code a route may name: its status and what it means. Parameter errors
# (``invalid_<name>``) come from the request models themselves.
ERRORS: dict[str, tuple[int, str]] = {
    "no_image": (400, "no photo was sent: a multipart file field 'image' (or a 'url')"),
    "invalid_image": (400, "the file is not a photo that can be decoded"),
    "empty_file": (400, "the file is empty"),
    "invalid_box": (400, "box must be four numbers: left,top,right,bottom"),
    "invalid_json": (400, "send a JSON object (Content-Type: application/json)"),
    "invalid_selection": (400, "give either 'ids' (a list) or 'breed', and nothing else"),
    "unknown_breed": (400, "the index has no such breed"),
    "url_not_allowed": (400, "the URL is not http(s) or resolves to a private address"),
    "url_credentials": (400, "URLs with a user name or password are not fetched"),
    "url_fetch_failed": (400, "the URL could not be fetched"),
    "unauthorized": (401, "this change needs the write key: Authorization: Bearer <key>"),
    "not_found": (404, "no image with that id"),
    "model_mismatch": (409, "the index was built by another model: re-index"),
    "file_missing": (409, "the photo's file is gone, so it cannot be restored"),
    "file_changed": (409, "the photo's file changed since it was deleted"),
    "read_only_original": (409, "a dataset original cannot be purged"),
    "payload_too_large": (413, "the request is larger than the upload limit"),
    "image_too_large": (413, "the photo is larger than the upload limit"),
    "too_many_pixels": (413, "the photo has more pixels than the service decodes"),
    "storage_error": (500, "the photo could not be written to the library folder"),
    "encoder_unavailable": (503, "encoder is unavailable: cannot connect"),
    "milvus_unavailable": (503, "milvus is unavailable: cannot connect"),
    "index_unavailable": (503, "the index does not match the encoder's model"),
    "encoder_timeout": (504, "encoder timed out"),
    "milvus_timeout": (504, "milvus timed out"),
}
UPLOAD = ("payload_too_large", "invalid_image", "empty_file", "image_too_large", "too_many_pixels")
ENCODER = ("encoder_unavailable", "encoder_timeout")
MILVUS = ("milvus_unavailable", "milvus_timeout")
