"""The one error format (``services/errors.py``): werkzeug's errors keep their headers, and
over-long URLs get a JSON 414 from the app before gunicorn's own HTML one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask

from services.errors import GUNICORN_REQUEST_LINE, MAX_URL_CHARS, register_error_handlers
from tests.support.api import api_under_test

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api(tmp_path):
    return api_under_test(tmp_path, per_breed=1)


def small_app() -> Flask:
    """The shared handler alone, as the encoder's factory installs it."""
    app = Flask(__name__)
    register_error_handlers(app)
    app.add_url_rule("/encode", "encode", lambda: "ok", methods=["POST"])
    return app


def test_a_405_names_the_allowed_methods_in_json():
    response = small_app().test_client().get("/encode")
    assert response.status_code == 405 and response.is_json
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert response.mimetype == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/search", {"POST", "OPTIONS"}),
        ("POST", "/api/breeds", {"GET", "HEAD", "OPTIONS"}),
        (
            "PUT",
            "/api/images/3f9c2b7e1a4d8e6f0b5c9a21",
            {"GET", "HEAD", "OPTIONS", "DELETE", "PATCH"},
        ),
    ],
)
def test_every_405_of_the_search_api_has_an_allow_header(api, method, path, allowed):
    response = api.client.open(path, method=method)
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == allowed


def test_a_url_over_the_limit_gets_a_json_414(api):
    query = "breed=" + "a" * MAX_URL_CHARS
    response = api.client.get(f"/api/images?{query}")
    assert response.status_code == 414 and response.is_json
    error = response.get_json()["error"]
    assert error["code"] == "uri_too_long"
    assert f"{MAX_URL_CHARS:,}" in error["message"]


def test_a_long_path_gets_a_json_414_too(api):
    response = api.client.get("/api/images/" + "a" * MAX_URL_CHARS)
    assert response.status_code == 414
    assert response.get_json()["error"]["code"] == "uri_too_long"


def test_a_url_just_under_the_limit_is_answered_as_usual(api):
    prefix = "/api/images?breed="
    response = api.client.get(prefix + "a" * (MAX_URL_CHARS - len(prefix)))
    assert response.status_code == 400  # no such breed: the view saw the request
    assert response.get_json()["error"]["code"] == "unknown_breed"


@pytest.mark.parametrize("conf", ["search-api/gunicorn_conf.py", "encoder/gunicorn_conf.py"])
def test_gunicorn_lets_every_url_just_over_the_limit_reach_the_app(conf):
    tree = ast.parse((ROOT / conf).read_text())
    settings = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert ast.literal_eval(settings["limit_request_line"]) == GUNICORN_REQUEST_LINE
    longest_method = "M" * 20  # gunicorn refuses longer methods itself
    line = f"{longest_method} /{'a' * MAX_URL_CHARS} HTTP/1.1"
    assert len(line) <= GUNICORN_REQUEST_LINE


def test_the_api_document_states_the_url_limit(api):
    description = api.client.get("/api/openapi.json").get_json()["info"]["description"]
    assert f"{MAX_URL_CHARS:,} characters gets a 414 `uri_too_long`" in description
