"""The one error format (``services/errors.py``): werkzeug's errors keep their headers."""

from __future__ import annotations

import pytest
from flask import Flask

from services.errors import register_error_handlers
from tests.support.api import api_under_test


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
