"""The dogs found in a query photo, and "Why?" (POST /api/why), in-process over fakes."""

from __future__ import annotations

import io

import pytest
from werkzeug.datastructures import MultiDict

from services.encoder_wire import FoundDog
from tests.support.api import api_under_test


@pytest.fixture
def api(tmp_path):
    return api_under_test(tmp_path)


def test_a_search_lists_the_dogs_the_encoder_found(api):
    data = api.files[0].path.read_bytes()
    api.encoder.dogs = [FoundDog((0.1, 0.2, 0.5, 0.9), 0.97), FoundDog((0.5, 0.1, 0.9, 0.8), 0.8)]
    body = api.client.post("/api/search", data={"image": (io.BytesIO(data), "q.jpg")}).get_json()
    found = [{"box": dog["box"], "score": dog["score"]} for dog in body["query"]["dogs"]]
    assert found == [
        {"box": [0.1, 0.2, 0.5, 0.9], "score": 0.97},
        {"box": [0.5, 0.1, 0.9, 0.8], "score": 0.8},
    ]
    api.encoder.dogs = None  # an encoder that does not localise says nothing of dogs
    body = api.client.post("/api/search", data={"image": (io.BytesIO(data), "q.jpg")}).get_json()
    assert "dogs" not in body["query"]


def test_why_between_two_stored_photos_gives_a_map_on_each(api):
    first, second = (api.id_of(file) for file in api.files[:2])
    response = api.client.post("/api/why", data={"query_id": first, "id": second})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert len(body["heat"]) == 2 and -1 <= body["similarity"] <= 1
    assert api.encoder.explained == [(first, second)]
    assert all(max(max(row) for row in heat["grid"]) == 1 for heat in body["heat"])


def test_a_field_given_twice_reads_as_its_first_value(api):
    """As Flask's ``get`` reads it; schemathesis found a repeated ``id`` refused with a code
    the document did not list."""
    first, second, third = (api.id_of(file) for file in api.files[:3])
    form = MultiDict([("query_id", first), ("id", second), ("id", third)])
    response = api.client.post("/api/why", data=form)
    assert response.status_code == 200, response.get_json()
    assert api.encoder.explained == [(first, second)]
    photo = (io.BytesIO(api.files[0].path.read_bytes()), "q.jpg")
    searched = api.client.post("/api/search?k=2&k=50", data={"image": photo})
    assert searched.status_code == 200 and searched.get_json()["k"] == 2


def test_why_with_an_uploaded_query(api):
    data = api.files[3].path.read_bytes()
    result = api.id_of(api.files[3])
    response = api.client.post(
        "/api/why", data={"image": (io.BytesIO(data), "mine.jpg"), "id": result}
    )
    assert response.status_code == 200
    assert response.get_json()["similarity"] == pytest.approx(1, abs=1e-3)
    assert api.encoder.explained == [("mine.jpg", result)]


@pytest.mark.parametrize(
    ("form", "status", "expected"),
    [
        ({"id": "0" * 24}, 400, "no_image"),
        ({"query_id": "0" * 24}, 400, "no_image"),
        ({"query_id": "0" * 24, "id": "0" * 24}, 404, "not_found"),
        ({"query_id": "nothex", "id": "0" * 24}, 404, "not_found"),
    ],
)
def test_why_refuses_what_it_cannot_explain(api, form, status, expected):
    response = api.client.post("/api/why", data=form)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == expected


def test_why_says_when_the_encoder_is_down(api):
    first, second = (api.id_of(file) for file in api.files[:2])
    api.encoder.down = True
    response = api.client.post("/api/why", data={"query_id": first, "id": second})
    assert response.status_code == 503
