"""What each endpoint is, declared once beside its view with :func:`operation`.

The declaration (summary, parameters, answers with example bodies, error codes, example
requests) is attached to the view function; :mod:`search_api.openapi` walks ``app.url_map``
and reads it from each route's view, so a route without one is visible (and fails a test).
The parameters are the same :class:`~search_api.params.Param` specs the view reads with.

Whether a route changes state is read from the declaration too (:func:`is_write`): every
method but GET, HEAD and OPTIONS writes unless its operation says ``read_only``, so a new
POST route needs the write key (:mod:`search_api.auth`) until it is declared harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from search_api.params import Alternatives, Param

View = TypeVar("View", bound=Callable[..., Any])
ATTRIBUTE = "openapi_operation"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Reply:
    """One successful answer: its status, body schema (a name in
    :data:`search_api.replies.SCHEMAS` or an inline JSON Schema) and an example body."""

    status: int
    description: str
    schema: str | dict[str, Any] | None = None
    example: Any = None
    media: str = "application/json"


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
class Operation:
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    params: tuple[Param, ...] = ()
    errors: tuple[str, ...] = ()  # codes in ERRORS, besides those of the params
    examples: tuple[Example, ...] = ()
    description: str = ""  # the view's docstring when empty
    read_only: bool = False  # a POST that only reads (search): no write key needed
    one_of: Alternatives = ()  # a JSON body that is exactly one of these sets of fields


def operation(
    summary: str,
    *,
    tag: str,
    replies: tuple[Reply, ...],
    params: tuple[Param, ...] = (),
    errors: tuple[str, ...] = (),
    examples: tuple[Example, ...] = (),
    description: str = "",
    read_only: bool = False,
    one_of: Alternatives = (),
) -> Callable[[View], View]:
    """Declare what the decorated view is; put it below the route decorator. ``one_of``: the
    JSON body's fields are exactly one of these groups (the view reads them with
    :func:`search_api.params.chosen`)."""
    unknown = [code for code in errors if code not in ERRORS]
    if unknown:  # at import: an undocumented code is a programming error
        raise ValueError(f"error codes missing from operations.ERRORS: {unknown}")
    declared = Operation(
        summary, tag, replies, params, errors, examples, description, read_only, one_of
    )

    def attach(view: View) -> View:
        setattr(view, ATTRIBUTE, declared)
        return view

    return attach


def operation_of(view: Callable[..., Any]) -> Operation | None:
    return getattr(view, ATTRIBUTE, None)


def is_write(method: str, declared: Operation | None) -> bool:
    """Whether ``method`` on a route declared so changes state (undeclared: it may)."""
    if method.upper() in SAFE_METHODS:
        return False
    return declared is None or not declared.read_only


# Every error code an operation may name: its status and what it means. Parameter errors
# (``invalid_<name>``) come from the parameter specs themselves.
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
