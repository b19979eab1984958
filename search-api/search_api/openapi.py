"""The OpenAPI 3.1 document of the search API, generated from the app it describes.

It walks ``app.url_map``: each route's view carries the operation declared beside it
(:func:`search_api.operations.operation`), whose parameters are the very specs the view
validates with, and bounds or defaults that come from settings (``max_k``) are filled in from
this app's settings. So the document cannot drift from what is enforced; a route without a
declaration is left out and listed by :func:`undocumented`, which a test keeps empty.
``apispec`` assembles the document (components, references, path parameters).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from flask import Flask
from werkzeug.routing import Rule

from search_api.collaborators import collaborators
from search_api.operations import ERRORS, Example, Operation, Reply, is_write, operation_of
from search_api.params import Alternatives, Param
from search_api.replies import PHOTO_ID, SCHEMAS, ref
from services.errors import MAX_URL_CHARS

TITLE = "dogsearch search API"
VERSION = "1.0.0"  # the API contract's version: bump it on a change that breaks clients
DESCRIPTION = (
    "Reverse image search of dog photos: search by photo or URL, browse, and manage the "
    'library. Every error is JSON: `{"error": {"code", "message"}}`; clients match on `code`. '
    f"A URL (path and query string) over {MAX_URL_CHARS:,} characters gets a 414 `uri_too_long`."
)
# Routes that are not part of the API, and why.
NOT_API = {
    "index": "the web page itself (HTML for people), not an API",
    "static_file": "the web page's scripts, styles and icons",
}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}  # answered by Flask for every route
WRITE_KEY = "writeKey"  # the security scheme every write route declares
WRITE_KEY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "The write key, `Authorization: Bearer <key>`: needed by every write when the service "
        "runs with SEARCH_API_WRITE_KEY set (GET /api/stats says so: `writes` is `key`). "
        "Reads never need it."
    ),
}
KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "text": {"type": "string"},
    "id": PHOTO_ID,
    "file": {"type": "string", "format": "binary"},
}


def routes(app: Flask) -> Iterator[tuple[Rule, Operation | None]]:
    """Every route of ``app`` but those in :data:`NOT_API`, with its declared operation."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods or ()))):
        if rule.endpoint not in NOT_API:
            yield rule, operation_of(app.view_functions[rule.endpoint])


def methods_of(rule: Rule) -> list[str]:
    return sorted(set(rule.methods or ()) - SKIPPED_METHODS)


def undocumented(app: Flask) -> list[str]:
    """``METHOD /path`` of each route that has no declared operation."""
    return [
        f"{','.join(methods_of(rule))} {rule.rule}" for rule, found in routes(app) if found is None
    ]


def openapi_path(rule: Rule, operation: Operation) -> str:
    """Flask's ``/api/images/<raw_id>`` as ``/api/images/{id}``: the name its spec gives."""
    names = {p.arg or p.name: p.name for p in operation.params if "path" in p.where}

    def template(match: re.Match[str]) -> str:
        return "{" + names.get(match["name"], match["name"]) + "}"

    return re.sub(r"<(?:[^:<>]+:)?(?P<name>[^<>:]+)>", template, rule.rule)


def build_document(app: Flask) -> dict[str, Any]:
    """The whole document, for this app's routes and settings."""
    settings = collaborators(app).settings
    spec = APISpec(TITLE, VERSION, "3.1.0", info={"description": DESCRIPTION})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    spec.components.security_scheme(WRITE_KEY, WRITE_KEY_SCHEME)
    for rule, found in routes(app):
        if found is None:
            continue
        view = app.view_functions[rule.endpoint]
        resolved = [resolve(param, settings) for param in found.params]
        operations = {
            method.lower(): _operation(
                found, resolved, rule.endpoint, inspect.getdoc(view), is_write(method, found)
            )
            for method in methods_of(rule)
        }
        spec.path(openapi_path(rule, found), operations=operations)
    return spec.to_dict()


def _operation(
    found: Operation, params: list[Param], endpoint: str, docstring: str | None, write: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "summary": found.summary,
        "tags": [found.tag],
        "parameters": [
            _parameter(param, place)
            for place in ("path", "query")
            for param in params
            if place in param.where
        ],
        "responses": _responses(found, params, write),
    }
    if write:
        out["security"] = [{WRITE_KEY: []}]
    description = found.description or (docstring or "").replace("``", "`")
    if description:
        out["description"] = description
    body = _request_body(params, found.examples, found.one_of)
    if body:
        out["requestBody"] = body
    if found.examples:
        out["x-examples"] = [_example(example) for example in found.examples]
    return out


def schema_of(param: Param) -> dict[str, Any]:
    """The JSON Schema of one value of ``param`` (resolved: numbers, not settings)."""
    schema = dict(KIND_SCHEMAS[param.kind])
    if param.kind in ("int", "float"):
        schema.update(
            {k: v for k, v in (("minimum", param.low), ("maximum", param.high)) if v is not None}
        )
    if param.default is not None:
        schema["default"] = param.default
    if param.many:
        schema = {"type": "array", "items": schema}
        if param.high is not None:
            schema["maxItems"] = param.high
    return schema


def resolve(param: Param, settings: object) -> Param:
    """``param`` with this deployment's numbers, its description naming their settings."""
    words = {"low": "minimum", "high": "maximum", "default": "default"}
    sources = [f"{words[name]} {s.env}" for name, s in param.settings_used.items()]
    if not sources:
        return param
    note = f" (Set by the service's settings: {', '.join(sources)}.)"
    return replace(param.resolved(settings), description=param.description + note)


def _parameter(param: Param, place: str) -> dict[str, Any]:
    out = {
        "name": param.name,
        "in": place,
        "required": param.required or place == "path",
        "description": param.description,
        "schema": schema_of(param),
    }
    if param.example is not None:
        out["example"] = param.example
    return out


def _request_body(
    params: list[Param], examples: tuple[Example, ...], one_of: Alternatives = ()
) -> dict[str, Any] | None:
    content: dict[str, Any] = {}
    for place, media in (("form", "multipart/form-data"), ("json", "application/json")):
        fields = [param for param in params if place in param.where]
        if not fields:
            continue
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: {**schema_of(p), "description": p.description} for p in fields},
        }
        required = [p.name for p in fields if p.required]
        if required:
            schema["required"] = required
        if place == "json" and one_of:
            schema["oneOf"] = [_exactly(group, schema["properties"]) for group in one_of]
        content[media] = {"schema": schema}
        # A file's bytes cannot be shown: its field stays out of the examples (``format:
        # binary`` says what it is); the curl form ``@rex.jpg`` lives in ``x-examples`` only.
        files = {p.name for p in fields if p.kind == "file"}
        values = [
            (n, e.summary, {k: v for k, v in (e.form or {}).items() if k not in files})
            if place == "form"
            else (n, e.summary, e.json)
            for n, e in enumerate(examples, 1)
        ]
        shown = {
            f"example{n}": {"summary": summary, "value": value}
            for n, summary, value in values
            if value
        }
        if shown:
            content[media]["examples"] = shown
    if not content:
        return None
    in_body = [param for param in params if param.where != ("query",) and "path" not in param.where]
    return {"required": any(param.required for param in in_body), "content": content}


def _exactly(group: tuple[Param, ...], properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly the fields of ``group``: one branch of a body's ``oneOf``."""
    names = [param.name for param in group]
    return {
        "type": "object",
        "properties": {name: properties[name] for name in names},
        "required": names,
        "additionalProperties": False,
    }


def _responses(found: Operation, params: list[Param], write: bool) -> dict[str, Any]:
    out: dict[str, Any] = {str(reply.status): _reply(reply) for reply in found.replies}
    errors: dict[int, dict[str, str]] = {}
    if write:
        errors[401] = {"unauthorized": ERRORS["unauthorized"][1]}
    for param in params:
        for status, code, message in param.errors():
            errors.setdefault(status, {}).setdefault(code, message)
    for code in found.errors:
        status, meaning = ERRORS[code]
        errors.setdefault(status, {}).setdefault(code, meaning)
    for status, codes in sorted(errors.items()):
        if str(status) in out:
            raise ValueError(f"{found.summary}: {status} is both an answer and an error")
        out[str(status)] = _errors(status, codes)
    if write:
        out["401"]["headers"] = {
            "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}
        }
    return out


def _reply(reply: Reply) -> dict[str, Any]:
    schema = reply.schema or {"type": "string"}
    media: dict[str, Any] = {"schema": ref(schema) if isinstance(schema, str) else schema}
    if reply.example is not None:
        media["example"] = reply.example
    return {"description": reply.description, "content": {reply.media: media}}


def _errors(status: int, codes: dict[str, str]) -> dict[str, Any]:
    """One status's error answers: the error format, its codes listed, an example of each."""
    schema = {
        "allOf": [ref("Error")],
        "properties": {"error": {"properties": {"code": {"enum": sorted(codes)}}}},
    }
    examples = {
        code: {"summary": message, "value": {"error": {"code": code, "message": message}}}
        for code, message in codes.items()
    }
    return {
        "description": f"{HTTPStatus(status).phrase}: {', '.join(codes)}",
        "content": {"application/json": {"schema": schema, "examples": examples}},
    }


def _example(example: Example) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": example.summary, "status": example.status}
    for name in ("path", "query", "form", "json"):
        value = getattr(example, name)
        if value:
            out[name] = value
    return out
