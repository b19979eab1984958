"""The OpenAPI 3.1 document of one app: spectree's, with what only this app knows.

spectree generates the document from the routes' declarations (:mod:`search_api.spec`). This
pass fills in what depends on the app or that spectree has no words for: bounds and defaults
from this app's settings (``max_k``), the image id path parameter, each route's error answers
with their codes, the write key's security on writes, example requests (``x-examples``) and
example bodies, and answers that are files. Request bodies are inlined, so each operation reads
on its own. A route without a declaration is left out and listed by :func:`undocumented`,
which a test keeps empty.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from search_api.answers import EXAMPLE_ID, PHOTO_ID
from search_api.collaborators import collaborators
from search_api.schemas import SETTINGS, setting_env
from search_api.spec import ERRORS, WRITE_KEY, Declared, Example, declared, is_write, spec

REF = "#/components/schemas/"
# Routes that are not part of the API, and why.
NOT_API = {
    "index": "the web page itself (HTML for people), not an API",
    "static_file": "the web page's scripts, styles and icons",
}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}  # answered by Flask for every route
PATH_ID = {  # Flask's <raw_id>: an image id, named ``id`` in the document
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The image's id: the content hash every answer gives (24 hex digits).",
    "schema": PHOTO_ID,
    "example": EXAMPLE_ID,
}
_GENERATING = threading.Lock()
WORDS = {"maximum": "maximum", "maxItems": "most items", "default": "default"}


def routes(app: Flask) -> Iterator[tuple[Rule, Declared | None]]:
    """Every route of ``app`` but those in :data:`NOT_API`, with its declaration."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods or ()))):
        if rule.endpoint not in NOT_API:
            yield rule, declared(app.view_functions[rule.endpoint])


def methods_of(rule: Rule) -> list[str]:
    return sorted(set(rule.methods or ()) - SKIPPED_METHODS)


def undocumented(app: Flask) -> list[str]:
    """``METHOD /path`` of each route that has no declaration."""
    return [
        f"{','.join(methods_of(rule))} {rule.rule}" for rule, found in routes(app) if found is None
    ]


def spectree_path(rule: Rule) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>:]+)>", r"{\1}", rule.rule)


def openapi_path(rule: Rule) -> str:
    """Flask's ``/api/images/<raw_id>`` as ``/api/images/{id}``."""
    return spectree_path(rule).replace("{raw_id}", "{id}")


def build_document(app: Flask) -> dict[str, Any]:
    """The whole document, for this app's routes and settings."""
    with _GENERATING, app.app_context():  # spectree's first generation changes its models
        generated = spec.spec  # made once per process: every app has the same routes
    document = copy.deepcopy(generated)
    document.pop("security", None)
    settings = collaborators(app).settings
    components = document["components"]["schemas"]
    request_models: set[str] = set()
    paths: dict[str, dict[str, Any]] = {}
    for rule, found in routes(app):
        if found is None:
            continue
        for method in methods_of(rule):
            op = document["paths"][spectree_path(rule)][method.lower()]
            request_models |= {model.__name__ for model in found.parts.values()}
            write = is_write(method, found)
            paths.setdefault(openapi_path(rule), {})[method.lower()] = _operation(
                op, rule.endpoint, found, components, settings, write
            )
    document["paths"] = paths
    for name in request_models:  # inlined where used
        components.pop(name, None)
    return document


def _operation(
    op: dict[str, Any],
    endpoint: str,
    found: Declared,
    components: dict[str, Any],
    settings: object,
    write: bool,
) -> dict[str, Any]:
    op["operationId"] = endpoint.replace(".", "_")
    op["description"] = op.get("description", "").replace("``", "`")
    if not op["description"]:
        del op["description"]
    op["parameters"] = [_parameter(param, settings) for param in op.get("parameters", [])]
    refusals: dict[int, dict[str, str]] = {}
    if any(param["in"] == "path" for param in op["parameters"]):
        refusals[404] = {"not_found": "no image with id 'not-an-id'"}
    for param in op["parameters"]:
        if param["in"] == "query":
            _refusals(refusals, param["name"], param["schema"], found.parts["query"])
    body = op.get("requestBody")
    if body:
        for media, content in body["content"].items():
            place = "form" if media == "multipart/form-data" else "json"
            schema = _inline(content["schema"], components, settings)
            content["schema"] = schema
            for name, prop in schema["properties"].items():
                _refusals(refusals, name, prop, found.parts[place])
            shown = _body_examples(found.examples, place, schema)
            if shown:
                content["examples"] = shown
    if write:
        op["security"] = [{WRITE_KEY: []}]
        refusals[401] = {"unauthorized": ERRORS["unauthorized"][1]}
    for code in found.errors:
        status, meaning = ERRORS[code]
        refusals.setdefault(status, {}).setdefault(code, meaning)
    op["responses"] = _responses(op["responses"], refusals, found, components)
    if write:
        op["responses"]["401"]["headers"] = {
            "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}
        }
    op["x-examples"] = [_example(example) for example in found.examples]
    return op


def _parameter(param: dict[str, Any], settings: object) -> dict[str, Any]:
    if param["in"] == "path":
        return dict(PATH_ID) if param["name"] == "raw_id" else param
    schema = _cleaned(param["schema"], settings)
    out = {**param, "schema": schema, "description": schema.pop("description", "")}
    examples = schema.pop("examples", None)
    if examples:
        out["example"] = examples[0]
    return out


def _inline(schema: dict[str, Any], components: dict[str, Any], settings: object) -> dict:
    """A request model's schema, in place of its reference, with this app's numbers."""
    model = copy.deepcopy(components[schema["$ref"].removeprefix(REF)])
    model.pop("title", None)
    model["properties"] = {
        name: _cleaned(prop, settings) for name, prop in model["properties"].items()
    }
    for prop in model["properties"].values():
        prop.pop("examples", None)  # a file's bytes cannot be shown; the others are in x-examples
    return model


def _cleaned(schema: dict[str, Any], settings: object) -> dict[str, Any]:
    """A request field's schema as a client sends it: never null (an absent field is the
    default), its settings-bound numbers filled in and named."""
    schema = {key: value for key, value in schema.items() if key != "title"}
    branches = schema.pop("anyOf", None)
    if branches:
        given = [branch for branch in branches if branch.get("type") != "null"]
        schema = {**given[0], **schema} if len(given) == 1 else {**schema, "anyOf": given}
    if schema.get("default", 0) is None:
        del schema["default"]
    named = schema.pop(SETTINGS, {})
    for keyword, setting in named.items():
        schema[keyword] = getattr(settings, setting)
    if named:
        sources = ", ".join(f"{WORDS[k]} {setting_env(s)}" for k, s in named.items())
        schema["description"] += f" (Set by the service's settings: {sources}.)"
    return schema


def _refusals(found: dict[int, dict[str, str]], name: str, schema: dict, model: Any) -> None:
    """Each way a value of field ``name`` can be refused, by status: code and an example."""
    code = model.code_of(name)
    kind = schema.get("type")
    if kind == "array" and schema.get("items", {}).get("pattern"):
        found.setdefault(400, {}).setdefault(code, f"{name!r} must be a list of image ids")
        found.setdefault(404, {}).setdefault("not_found", "no image with id 'not-an-id'")
    if kind == "array" and "maxItems" in schema:
        message = f"at most {schema['maxItems']} values of {name!r} per request"
        found.setdefault(413, {}).setdefault(code, message)
    if kind in ("integer", "number"):
        message = f"{name} must be between {schema.get('minimum')} and {schema.get('maximum')}"
        found.setdefault(400, {}).setdefault(code, message)
    elif kind == "boolean":
        found.setdefault(400, {}).setdefault(code, f"{name} must be true or false, got 'maybe'")
    elif kind == "string" and (name in model.codes or _required(model, name)):
        found.setdefault(400, {}).setdefault(code, f"give {name!r} as a string")


def _required(model: Any, name: str) -> bool:
    return bool(model.model_fields[name].is_required())


def _responses(
    generated: dict[str, Any],
    refusals: dict[int, dict[str, str]],
    found: Declared,
    components: dict[str, Any],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, answer in generated.items():
        if status == "400":
            continue  # spectree's validation answer: ours are listed with their codes below
        media = found.media.get(int(status))
        if media is not None:
            answer["content"] = {media: {"schema": {"type": "string", "format": "binary"}}}
        for content in answer.get("content", {}).values():
            name = content["schema"].get("$ref", "").removeprefix(REF)
            shown = components.get(name, {}).get("examples")
            if shown:
                content["example"] = shown[0]
        out[status] = answer
    for refused, codes in sorted(refusals.items()):
        if str(refused) in out:
            raise ValueError(f"{found}: {refused} is both an answer and an error")
        out[str(refused)] = _errors(refused, codes)
    return out


def _errors(status: int, codes: dict[str, str]) -> dict[str, Any]:
    """One status's error answers: the error format, its codes listed, an example of each."""
    schema = {
        "allOf": [{"$ref": REF + "Error"}],
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


def _body_examples(examples: tuple[Example, ...], place: str, schema: dict) -> dict[str, Any]:
    """The example requests' bodies. A file's bytes cannot be shown: its field stays out
    (``format: binary`` says what it is); the curl form ``@rex.jpg`` is in ``x-examples``."""
    files = {n for n, p in schema["properties"].items() if "binary" in str(p)}
    shown = {}
    for n, example in enumerate(examples, 1):
        if place == "form":
            value = {k: v for k, v in example.form.items() if k not in files}
        else:
            value = example.json or {}
        if value:
            shown[f"example{n}"] = {"summary": example.summary, "value": value}
    return shown


def _example(example: Example) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": example.summary, "status": example.status}
    for name in ("path", "query", "form", "json"):
        value = getattr(example, name)
        if value:
            out[name] = value
    return out
