"""What the ``/api/docs`` page shows, read from the OpenAPI document: one entry per endpoint
with its parameters (where, type, bounds, default), answers with their error codes, and the
example requests as curl commands. The page itself is ``templates/api_docs.html``."""

from __future__ import annotations

import html
import json
import re
import shlex
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

PLACES = {
    "path": "path",
    "query": "query",
    "multipart/form-data": "form",
    "application/json": "JSON",
}
# Inline, so the page needs no other file; the answer's CSP allows exactly this text by hash.
CSS = """
body { font: 16px/1.5 system-ui, sans-serif; color: #1b1b1b; background: #fff;
  max-width: 72rem; margin: 0 auto; padding: 1rem; }
a { color: #0b57a4; }
code, pre { font-family: ui-monospace, monospace; font-size: .92em; }
pre { background: #f3f4f6; padding: .6rem; overflow-x: auto; white-space: pre-wrap;
  overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border: 1px solid #c8ccd2; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef0f3; }
section { border-top: 2px solid #c8ccd2; margin-top: 2rem; }
.method { display: inline-block; min-width: 4.5rem; font-family: ui-monospace, monospace; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; }
ul.codes { margin: 0; padding-left: 1.1rem; }
""".strip()


@dataclass
class Endpoint:
    anchor: str
    method: str
    path: str
    summary: str
    description: str  # HTML (with_code)
    params: list[dict[str, str]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)


def endpoints(document: dict[str, Any], base_url: str) -> list[Endpoint]:
    """Every operation of ``document``, in path order; curl commands aim at ``base_url``."""
    found = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            found.append(
                Endpoint(
                    anchor=op["operationId"],
                    method=method.upper(),
                    path=path,
                    summary=op["summary"],
                    description=with_code(op.get("description", "")),
                    params=_params(op),
                    responses=_responses(op),
                    examples=[
                        {**x, "curl": curl(method, path, x, base_url, "security" in op)}
                        for x in op.get("x-examples", [])
                    ],
                )
            )
    return found


def _params(op: dict[str, Any]) -> list[dict[str, str]]:
    """One row per parameter name, listing every place it may be given."""
    rows: dict[str, dict[str, Any]] = {}
    given = [
        (p["in"], p["name"], p["schema"], p["required"], p["description"])
        for p in op.get("parameters", [])
    ]
    for media, content in op.get("requestBody", {}).get("content", {}).items():
        schema = content["schema"]
        for name, prop in schema["properties"].items():
            required = name in schema.get("required", [])
            given.append((media, name, prop, required, prop.get("description", "")))
    for place, name, schema, required, description in given:
        row = rows.setdefault(name, {"name": name, "places": [], **_describe(schema)})
        row["places"].append(PLACES[place])
        row.update(required=row.get("required") or required, description=description)
    return [{**row, "places": ", ".join(row["places"])} for row in rows.values()]


def _describe(schema: dict[str, Any]) -> dict[str, str]:
    items = schema.get("items", schema)
    kind = items.get("type", "string")
    if items.get("format") == "binary":
        kind = "file"
    elif "pattern" in items:
        kind = "image id"
    allowed = []
    if "minimum" in items or "maximum" in items:
        allowed.append(f"{items.get('minimum', '')} to {items.get('maximum', '')}")
    if schema.get("type") == "array":
        kind = f"list of {kind}"
        if "maxItems" in schema:
            allowed.append(f"at most {schema['maxItems']}")
    default = items.get("default")
    return {
        "type": kind,
        "allowed": ", ".join(allowed),
        "default": "" if default is None else json.dumps(default),
    }


def _responses(op: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for status, answer in op["responses"].items():
        codes = []
        for media in answer.get("content", {}).values():
            codes += [(code, x["summary"]) for code, x in media.get("examples", {}).items()]
        meaning = HTTPStatus(int(status)).phrase if codes else answer["description"]
        rows.append({"status": status, "description": meaning, "codes": codes})
    return rows


def with_code(text: str) -> str:
    """``text`` as HTML, escaped, its `backquoted` spans as code (the page marks it safe)."""
    parts = re.split(r"`([^`]+)`", text)
    return "".join(
        f"<code>{html.escape(part)}</code>" if n % 2 else html.escape(part)
        for n, part in enumerate(parts)
    )


def curl(
    method: str, path: str, example: dict[str, Any], base_url: str, keyed: bool = False
) -> str:
    """The example as a curl command line (``@name`` form values are files); ``keyed``: a
    write, which sends the write key (needed when the service has one)."""
    for name, value in example.get("path", {}).items():
        path = path.replace("{" + name + "}", str(value))
    query = {name: _text(value) for name, value in example.get("query", {}).items()}
    url = base_url + path + ("?" + urlencode(query) if query else "")
    form, body = example.get("form", {}), example.get("json")
    words = ["curl"]
    if method != "get" and not (method == "post" and (form or body is not None)):
        words += ["-X", method.upper()]
    words.append(url)
    if keyed:
        words += ["-H", "Authorization: Bearer <write key>"]
    for name, value in form.items():
        for one in value if isinstance(value, list) else [value]:
            words += ["-F", f"{name}={_text(one)}"]
    if body is not None:
        words += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    return " ".join(shlex.quote(word) for word in words)


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)
