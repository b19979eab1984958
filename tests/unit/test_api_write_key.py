"""The write key, in-process over fakes: with ``SEARCH_API_WRITE_KEY`` set, every write route
the OpenAPI document lists (so a new one cannot slip through) refuses a request without the
key or with a wrong one, and takes the right one; reads stay open; no key means open."""

from __future__ import annotations

import hmac
import io
from typing import Any

import pytest

from search_api.openapi import SKIPPED_METHODS
from services.dataset import content_id
from tests.support.api import api_under_test
from tests.support.synthetic import jpeg_bytes

KEY = "correct horse battery staple"
WRITES = {  # every write route, as the document names it; a new one fails the test below
    ("post", "/api/images"),
    ("delete", "/api/images/{id}"),
    ("patch", "/api/images/{id}"),
    ("post", "/api/images/delete"),
    ("post", "/api/images/{id}/restore"),
    ("delete", "/api/deleted/{id}"),
}


@pytest.fixture
def api(tmp_path):
    return api_under_test(tmp_path, per_breed=2, write_key=KEY)


def document(api) -> dict[str, Any]:
    return api.client.get("/api/openapi.json").get_json()


def write_routes(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of each operation that declares the write key."""
    return sorted(
        (method, path)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if "writeKey" in {name for need in op.get("security", []) for name in need}
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def send(api, method: str, path: str, headers: dict[str, str]):
    """A well-formed request for each write route, naming a stored (or deleted) photo."""
    image_id = api.id_of(api.files[0])
    if path in ("/api/images/{id}/restore", "/api/deleted/{id}"):
        photo = jpeg_bytes(4343)  # only a photo added through the API can be purged
        added = {"image": (io.BytesIO(photo), "p.jpg")}
        assert api.client.post("/api/images", data=added, headers=bearer(KEY)).status_code == 201
        image_id = content_id(photo)
        gone = api.client.delete(f"/api/images/{image_id}", headers=bearer(KEY))
        assert gone.status_code == 200
    url = path.replace("{id}", image_id)
    kwargs: dict[str, Any] = {
        ("post", "/api/images"): {"data": {"image": (io.BytesIO(jpeg_bytes(4444)), "n.jpg")}},
        ("patch", "/api/images/{id}"): {"json": {"breed": "beagle"}},
        ("post", "/api/images/delete"): {"json": {"ids": [image_id]}},
    }.get((method, path), {})
    return api.client.open(url, method=method.upper(), headers=headers, **kwargs)


def test_the_document_marks_exactly_the_writes_with_the_key_and_its_401(api):
    found = document(api)
    assert write_routes(found) == sorted(WRITES)
    assert found["components"]["securitySchemes"]["writeKey"] == {
        **found["components"]["securitySchemes"]["writeKey"],
        "type": "http",
        "scheme": "bearer",
    }
    for path, item in found["paths"].items():
        for method, op in item.items():
            refused = op["responses"].get("401")
            if (method, path) in WRITES:
                examples = refused["content"]["application/json"]["examples"]
                assert "unauthorized" in examples and "WWW-Authenticate" in refused["headers"]
            else:
                assert refused is None and "security" not in op, f"{method} {path}"


def test_the_docs_page_shows_the_key_on_write_examples_only(api):
    html = api.client.get("/api/docs").get_data(as_text=True)
    examples = sum(
        len(op["x-examples"])
        for item in document(api)["paths"].values()
        for op in item.values()
        if "security" in op
    )
    assert examples >= len(WRITES)
    assert html.count("Authorization: Bearer &lt;write key&gt;") == examples


def test_the_search_and_why_posts_are_the_only_non_get_reads(api):
    """Every other method but GET is a write: a new POST needs the key until declared not.
    Both reads carry a photo in their body, so they must be POSTs."""
    found = document(api)
    reads = {
        (method, path)
        for path, item in found["paths"].items()
        for method in item
        if method.upper() not in {"GET", *SKIPPED_METHODS} and (method, path) not in WRITES
    }
    assert reads == {("post", "/api/search"), ("post", "/api/why")}


def test_every_write_in_the_document_needs_the_key(tmp_path):
    """Taken from the document, so a write route added later is checked without a word here;
    with the right key, each of ours does its work (a new one must at least not get a 401)."""
    routes = write_routes(document(api_under_test(tmp_path / "doc", per_breed=1, write_key=KEY)))
    assert len(routes) >= len(WRITES)
    for n, (method, path) in enumerate(routes):
        api = api_under_test(tmp_path / str(n), per_breed=2, write_key=KEY)
        before = dict(api.store.photos)
        for headers in ({}, bearer("wrong"), bearer(KEY[:-1]), {"Authorization": f"Basic {KEY}"}):
            response = send(api, method, path, headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.get_json()["error"]["code"] == "unauthorized"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        if path not in ("/api/images/{id}/restore", "/api/deleted/{id}"):  # they prepare one
            assert api.store.photos == before, f"{method} {path} changed the store when refused"
        response = send(api, method, path, bearer(KEY))
        assert response.status_code != 401, (method, path)
        if (method, path) in WRITES:
            assert response.status_code in (200, 201), (method, path, response.get_json())


def test_reads_stay_open_and_stats_say_a_key_is_needed(api):
    image_id = api.id_of(api.files[0])
    for path in ("/api/stats", "/api/breeds", "/api/images", f"/api/images/{image_id}",
                 f"/api/images/{image_id}/similar", "/api/deleted", "/api/duplicates",
                 f"/thumbs/{image_id}", "/api/openapi.json", "/healthz"):  # fmt: skip
        assert api.client.get(path).status_code == 200, path
    photo = (io.BytesIO(api.files[0].path.read_bytes()), "q.jpg")
    assert api.client.post("/api/search", data={"image": photo}).status_code == 200
    assert api.client.get("/api/stats").get_json()["writes"] == "key"


def test_without_a_key_writes_are_open(tmp_path):
    api = api_under_test(tmp_path, per_breed=2)
    assert api.client.get("/api/stats").get_json()["writes"] == "open"
    image_id = api.id_of(api.files[0])
    assert api.client.patch(f"/api/images/{image_id}", json={"breed": "beagle"}).status_code == 200
    assert api.client.delete(f"/api/images/{image_id}").status_code == 200


def test_the_key_is_compared_in_constant_time(api, monkeypatch):
    calls, compare = [], hmac.compare_digest

    def spy(given, expected):
        calls.append((given, expected))
        return compare(given, expected)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    image_id = api.id_of(api.files[0])
    wrong = api.client.delete(f"/api/images/{image_id}", headers=bearer("guess"))
    right = api.client.delete(f"/api/images/{image_id}", headers=bearer(KEY))
    assert (wrong.status_code, right.status_code) == (401, 200)
    assert calls == [(b"guess", KEY.encode()), (KEY.encode(), KEY.encode())]


def test_a_non_ascii_guess_is_refused_not_an_error(api):
    image_id = api.id_of(api.files[0])
    response = api.client.delete(f"/api/images/{image_id}", headers=bearer("clé"))
    assert response.status_code == 401


def test_unknown_routes_and_methods_keep_their_own_answers(api):
    assert api.client.post("/api/nowhere").status_code == 404
    assert api.client.put("/api/images/abc").status_code == 405


def test_the_key_is_never_logged(tmp_path, capsys):
    api = api_under_test(tmp_path, per_breed=1, write_key=KEY)
    api.client.delete(f"/api/images/{api.id_of(api.files[0])}", headers=bearer("guess"))
    logged = capsys.readouterr().err  # JSON lines, the effective settings among them
    assert '"write_key": "**********"' in logged and KEY not in logged
