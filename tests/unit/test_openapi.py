"""The OpenAPI document and the docs page, in-process over fakes: the document is valid
OpenAPI, names every route, states the bounds the endpoints enforce, and each example request
gets the documented answer, whose body fits the documented schema."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest
from openapi_spec_validator import validate

from search_api.answers import EXAMPLE_ID
from search_api.openapi import NOT_API, methods_of, openapi_path, undocumented
from search_api.spec import declared
from services.dataset import DEFAULT_BREEDS_FILE as BREEDS_FILE
from services.dataset import breed_name, content_id
from tests.support.api import api_under_test
from tests.support.synthetic import jpeg_bytes


@pytest.fixture
def api(tmp_path):
    return api_under_test(tmp_path)


@pytest.fixture
def document(api) -> dict[str, Any]:
    response = api.client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method, op in item.items():
            yield path, method, op


def check(document: dict[str, Any], schema: dict[str, Any], body: Any) -> None:
    """Validate ``body`` against ``schema``, whose references point into ``document``."""
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)


def test_the_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_route_is_documented_with_its_methods(api, document):
    assert undocumented(api.app) == []
    for rule in api.app.url_map.iter_rules():
        if rule.endpoint in NOT_API:
            assert not rule.rule.startswith("/api"), "every /api route is part of the API"
            continue
        found = declared(api.app.view_functions[rule.endpoint])
        assert found is not None, f"{rule.rule} ({rule.endpoint}) has no @endpoint"
        path = openapi_path(rule)
        assert "<" not in path, f"{rule.rule}: a URL variable without a path parameter spec"
        item = document["paths"].get(path, {})
        for method in methods_of(rule):
            assert method.lower() in item, f"{method} {path} is missing from the document"
            names = {p["name"] for p in item[method.lower()].get("parameters", [])}
            assert set(re.findall(r"{(\w+)}", path)) <= names, f"{method} {path}"


def test_the_only_routes_left_out_are_the_web_pages(api):
    left_out = {rule.rule for rule in api.app.url_map.iter_rules() if rule.endpoint in NOT_API}
    assert left_out == {"/", "/static/<path:name>"}
    assert all(reason for reason in NOT_API.values())


def test_a_route_added_without_a_declaration_is_caught(api):
    api.app.add_url_rule("/api/new", "new", lambda: "new", methods=["GET", "POST"])
    assert undocumented(api.app) == ["GET,POST /api/new"]
    assert "/api/new" not in api.client.get("/api/openapi.json").get_json()["paths"]


def test_every_operation_has_examples_and_every_error_its_code(document):
    for path, method, op in operations(document):
        assert op.get("x-examples"), f"{method} {path} has no example request"
        for status, answer in op["responses"].items():
            if int(status) >= 400 and "examples" in answer.get("content", {}).get(
                "application/json", {}
            ):
                codes = answer["content"]["application/json"]["examples"]
                enum = answer["content"]["application/json"]["schema"]["properties"]["error"]
                assert sorted(codes) == enum["properties"]["code"]["enum"]


def test_every_answer_example_fits_its_schema(document):
    for path, method, op in operations(document):
        for status, answer in op["responses"].items():
            for media, content in answer.get("content", {}).items():
                if media != "application/json":
                    continue
                shown = [content["example"]] if "example" in content else []
                shown += [x["value"] for x in content.get("examples", {}).values()]
                assert shown, f"{method} {path} {status} has no example body"
                for body in shown:
                    check(document, content["schema"], body)


def documented(document, path: str, method: str, name: str) -> dict[str, Any]:
    """The schema of parameter ``name``: from the parameters or the request body."""
    op = document["paths"][path][method]
    for param in op.get("parameters", []):
        if param["name"] == name:
            return param["schema"]
    for content in op["requestBody"]["content"].values():
        if name in content["schema"]["properties"]:
            return content["schema"]["properties"][name]
    raise KeyError(name)


def search(api, **fields):
    photo = (io.BytesIO(api.files[0].path.read_bytes()), "q.jpg")
    return api.client.post("/api/search", data={"image": photo, **fields})


def similar(api, **query):
    return api.client.get(f"/api/images/{api.id_of(api.files[0])}/similar?{urlencode(query)}")


def browse(api, **query):
    return api.client.get(f"/api/images?{urlencode(query)}")


def duplicates(api, **query):
    return api.client.get(f"/api/duplicates?{urlencode(query)}")


@pytest.mark.parametrize(
    ("path", "method", "name", "send"),
    [
        ("/api/search", "post", "k", search),
        ("/api/search", "post", "min_similarity", search),
        ("/api/search", "post", "duplicate_threshold", search),
        ("/api/images/{id}/similar", "get", "k", similar),
        ("/api/images", "get", "page", browse),
        ("/api/images", "get", "per_page", browse),
        ("/api/duplicates", "get", "threshold", duplicates),
        ("/api/duplicates", "get", "limit", duplicates),
    ],
)
@pytest.mark.parametrize("settings", [{}, {"max_k": 7, "default_k": 3, "max_per_page": 9}])
def test_the_documented_bounds_are_the_enforced_ones(tmp_path, path, method, name, send, settings):
    api = api_under_test(tmp_path, **settings)
    schema = documented(api.client.get("/api/openapi.json").get_json(), path, method, name)
    low, high = schema["minimum"], schema["maximum"]
    step = 1 if schema["type"] == "integer" else 0.01
    for value in (low, high):
        response = send(api, **{name: value})
        assert response.status_code == 200, (name, value, response.get_json())
    for value in (low - step, high + step):
        response = send(api, **{name: value})
        assert response.status_code == 400, (name, value)
        assert response.get_json()["error"]["code"] == f"invalid_{name}"


def test_settings_show_in_the_document_and_defaults_are_applied(tmp_path):
    api = api_under_test(tmp_path, max_k=7, default_k=3, max_per_page=9)
    document = api.client.get("/api/openapi.json").get_json()
    k = documented(document, "/api/images/{id}/similar", "get", "k")
    assert (k["maximum"], k["default"]) == (7, 3)
    assert similar(api).get_json()["k"] == 3
    per_page = documented(document, "/api/images", "get", "per_page")
    assert per_page["maximum"] == 9
    assert browse(api).get_json()["per_page"] == per_page["default"]


def prepared_id(api, operation_id: str) -> str:
    """A photo the example's path can name: a stored one, or a deleted one to restore/purge."""
    if operation_id == "library_purge_image":  # only a photo added through the API is purged
        photo = jpeg_bytes(4242)
        api.client.post("/api/images", data={"image": (io.BytesIO(photo), "p.jpg")})
        image_id = content_id(photo)
    else:
        image_id = api.id_of(api.files[0])
    if operation_id in ("manage_restore_image", "library_purge_image"):
        assert api.client.delete(f"/api/images/{image_id}").status_code == 200
    return image_id


def upload(value: str) -> tuple[io.BytesIO, str]:
    """``@name.jpg`` as a file: a photo of its own per name."""
    name = value.removeprefix("@")
    return io.BytesIO(jpeg_bytes(zlib.crc32(name.encode()) % 10_000 + 5000)), name


def send_example(api, path: str, method: str, op: dict[str, Any], example: dict[str, Any]):
    image_id = prepared_id(api, op["operationId"])

    def real(value: Any) -> Any:  # the example's id stands for a stored photo
        if isinstance(value, list):
            return [real(item) for item in value]
        return image_id if value == EXAMPLE_ID else value

    for name, value in example.get("path", {}).items():
        path = path.replace("{" + name + "}", str(real(value)))
    query = {
        name: str(value).lower() if isinstance(value, bool) else value
        for name, value in example.get("query", {}).items()
    }
    url = path + ("?" + urlencode(query) if query else "")
    body = {name: real(value) for name, value in (example.get("json") or {}).items()}
    form: dict[str, Any] = {}
    for name, value in example.get("form", {}).items():
        many = value if isinstance(value, list) else [value]
        files = [upload(v) if str(v).startswith("@") else str(real(v)) for v in many]
        form[name] = files if isinstance(value, list) else files[0]
    for given in (form, body):
        if "url" in given:  # what the fake fetcher answers for the example's URL
            api.fetcher.pages[given["url"]] = jpeg_bytes(77)
    kwargs = {"json": body} if example.get("json") is not None else {"data": form}
    return api.client.open(url, method=method.upper(), **kwargs)


def test_every_example_request_gets_its_documented_answer(tmp_path, document):
    failures = []
    for n, (path, method, op) in enumerate(operations(document)):
        for m, example in enumerate(op["x-examples"]):
            api = api_under_test(tmp_path / f"{n}-{m}", per_breed=2)
            response = send_example(api, path, method, op, example)
            where = f"{method.upper()} {path} ({example['summary']})"
            if response.status_code != example["status"]:
                failures.append(f"{where}: {response.status_code} {response.get_data()[:200]!r}")
                continue
            answer = op["responses"][str(response.status_code)]
            if response.is_json:
                check(document, answer["content"]["application/json"]["schema"], response.json)
            else:
                assert response.mimetype in {m.replace("*", "jpeg") for m in answer["content"]}
    assert not failures, "\n".join(failures)


def test_the_docs_page_shows_every_endpoint_and_needs_nothing_else(api, document):
    page = api.client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for path, method, op in operations(document):
        heading = f'<span class="method">{method.upper()}</span> <code>{path}</code>'
        assert heading in html and f'id="{op["operationId"]}"' in html, heading
    for text in ("invalid_k", "encoder_unavailable", "1 to 100", "-F image=@rex.jpg -F k=5"):
        assert text in html, text
    assert "<script" not in html and not re.search(r'(?:src|href)="(?:https?:)?//', html)
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = page.headers["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy


def test_a_file_field_is_binary_with_no_text_standing_in_for_its_bytes(document):
    for path, method, op in operations(document):
        form = op.get("requestBody", {}).get("content", {}).get("multipart/form-data")
        if form is None:
            continue
        files = [n for n, s in form["schema"]["properties"].items() if s.get("format") == "binary"]
        for name in files:
            assert "example" not in form["schema"]["properties"][name], (method, path, name)
        for example in form.get("examples", {}).values():
            assert not set(files) & set(example["value"]), (method, path, example["summary"])


def official_breeds() -> list[str]:
    return [breed_name(line) for line in BREEDS_FILE.read_text().split()]


def breeds_named(value: Any) -> Iterator[tuple[str, Any]]:
    """Every breed an example names: ``breed`` values, a ``known`` list's, a breed's ``name``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "breed" and isinstance(item, str):
                yield item, value.get("breed_id")
            elif key == "known":
                yield from ((name, None) for name in item)
            elif key == "breeds" and isinstance(item, list):
                yield from ((b["name"], b["id"]) for b in item)
            else:
                yield from breeds_named(item)
    elif isinstance(value, list):
        for item in value:
            yield from breeds_named(item)


def test_examples_name_breeds_as_the_official_list_spells_them(document):
    official = official_breeds()
    shown = []
    for _path, _method, op in operations(document):
        for example in op["x-examples"]:
            if example["status"] < 400:
                shown += breeds_named(example)
        for status, answer in op["responses"].items():
            for content in answer.get("content", {}).values() if int(status) < 400 else ():
                shown += breeds_named(content.get("example"))
                shown += breeds_named([x["value"] for x in content.get("examples", {}).values()])
        for param in op.get("parameters", []):
            if param["name"] == "breed":
                shown.append((param["example"], None))
    assert shown
    for name, breed_id in shown:
        assert name in official, name
        assert breed_id is None or official[breed_id] == name, (name, breed_id)


SELECTIONS = [
    {"ids": [EXAMPLE_ID]},
    {"ids": []},
    {"breed": "Chihuahua"},
    {"ids": [EXAMPLE_ID], "breed": "Chihuahua"},
    {},
    {"ids": [EXAMPLE_ID], "everything": True},
    {"breed": "Chihuahua", "force": 1},
    {"ids": None},
    {"breed": None},
    {"ids": None, "breed": "Chihuahua"},
]


@pytest.mark.parametrize("body", SELECTIONS)
def test_delete_many_takes_ids_or_breed_as_its_schema_says(api, document, body):
    """The schema says the two exclude each other, and the view accepts exactly what it allows."""
    schema = document["paths"]["/api/images/delete"]["post"]["requestBody"]["content"]
    schema = schema["application/json"]["schema"]
    assert [branch["required"] for branch in schema["oneOf"]] == [["ids"], ["breed"]]
    assert all(branch["additionalProperties"] is False for branch in schema["oneOf"])
    valid = jsonschema.Draft202012Validator(schema).is_valid(body)
    response = api.client.post("/api/images/delete", json=body)
    assert (response.status_code == 200) == valid, (body, response.get_json())
    if not valid:
        assert response.get_json()["error"]["code"] == "invalid_selection"
