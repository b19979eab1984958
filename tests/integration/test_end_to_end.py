"""The whole system on loopback: ingest, search, "more like this", browse, files, failures.

Every test runs against the session's indexed stack (``conftest.stack``) in any order; the
resumed-ingest test uses a collection of its own, and the encoder-outage test restarts the
encoder when it is done.
"""

from __future__ import annotations

import pytest
import requests

from scripts.jobs import ingest
from services.dataset import content_id, iter_image_files
from tests.support.stack import store_of, stored_ids

pytestmark = [pytest.mark.integration, pytest.mark.milvus]


def api(stack, path: str, **kwargs) -> requests.Response:
    return requests.request(kwargs.pop("method", "GET"), stack.api_url + path, timeout=60, **kwargs)


def upload(stack, data: bytes, name: str = "query.jpg", **fields) -> requests.Response:
    return api(stack, "/api/search", method="POST", files={"image": (name, data)}, data=fields)


def test_interrupted_ingest_then_rerun_indexes_everything_exactly_once(stack, capsys):
    own = ("--collection", "e2e_resumed", "--no-progress")
    try:
        assert ingest.main(stack.ingest_args(*own, "--limit", "12", "--batch-size", "4")) == 0
        assert len(stored_ids(stack, "e2e_resumed")) == 12
        assert ingest.main(stack.ingest_args(*own, "--batch-size", "8")) == 0
        summary = capsys.readouterr().out
        assert "18 added, 12 already indexed" in summary
        ids = stored_ids(stack, "e2e_resumed")
        assert len(ids) == len(set(ids)) == 30
        files = iter_image_files(stack.dataset_root)
        assert set(ids) == {content_id(f.path.read_bytes()) for f in files}
    finally:
        store_of(stack, "e2e_resumed").drop()


def test_rerunning_ingest_adds_nothing(stack, capsys):
    assert ingest.main(stack.ingest_args("--no-progress")) == 0
    assert "0 added, 30 already indexed" in capsys.readouterr().out
    assert len(stored_ids(stack)) == 30


def test_breeds_and_counts(stack):
    body = api(stack, "/api/breeds").json()
    assert body["total"] == 30
    assert {(b["name"], b["id"], b["count"]) for b in body["breeds"]} == {
        ("Chihuahua", 0, 10),
        ("Japanese spaniel", 1, 10),
        ("golden retriever", 56, 10),
    }


def test_search_with_an_indexed_image_finds_it_first(stack):
    file = next(iter_image_files(stack.dataset_root))
    response = upload(stack, file.path.read_bytes(), k="5")
    assert response.status_code == 200
    body = response.json()
    first = body["results"][0]
    assert first["id"] == content_id(file.path.read_bytes())
    assert first["similarity"] >= 0.999
    assert first["breed"] == file.breed
    assert len(body["results"]) == 5
    sims = [r["similarity"] for r in body["results"]]
    assert sims == sorted(sims, reverse=True) and all(0 <= s <= 1 for s in sims)
    assert set(body["timings"]) >= {"encode_ms", "search_ms"}


def test_more_like_this_returns_other_photos_not_the_query(stack):
    image_id = stored_ids(stack)[3]
    body = api(stack, f"/api/images/{image_id}/similar", params={"k": 4}).json()
    assert image_id not in {result["id"] for result in body["results"]}
    assert len(body["results"]) == 4
    similarities = [result["similarity"] for result in body["results"]]
    assert similarities == sorted(similarities, reverse=True)


def test_breed_filter_returns_only_that_breed(stack):
    file = next(iter_image_files(stack.dataset_root))
    body = upload(stack, file.path.read_bytes(), k="20", breed="golden retriever").json()
    assert len(body["results"]) == 10
    assert {r["breed"] for r in body["results"]} == {"golden retriever"}
    unknown = upload(stack, file.path.read_bytes(), breed="Unicorn")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_breed"


def test_browsing_pages_through_a_breed(stack):
    first = api(stack, "/api/images", params={"breed": "Chihuahua", "per_page": 4}).json()
    last = api(stack, "/api/images", params={"breed": "Chihuahua", "per_page": 4, "page": 3}).json()
    assert (first["total"], first["pages"]) == (10, 3)
    assert (len(first["images"]), len(last["images"])) == (4, 2)
    assert not {i["id"] for i in first["images"]} & {i["id"] for i in last["images"]}
    one = api(stack, f"/api/images/{first['images'][0]['id']}").json()
    assert one["breed"] == "Chihuahua" and one["path"].startswith("n02085620-Chihuahua/")


def test_image_and_thumbnail_files(stack):
    file = next(iter_image_files(stack.dataset_root))
    image_id = content_id(file.path.read_bytes())
    original = api(stack, f"/images/{image_id}")
    assert original.status_code == 200 and original.content == file.path.read_bytes()
    thumb = api(stack, f"/thumbs/{image_id}")
    assert thumb.headers["Content-Type"] == "image/jpeg"
    assert "immutable" in thumb.headers["Cache-Control"]
    assert thumb.content[:2] == b"\xff\xd8" and len(thumb.content) < len(original.content) * 2
    assert api(stack, f"/thumbs/{image_id}").content == thumb.content  # now from the cache


@pytest.mark.parametrize(
    "path",
    [
        "/images/../../etc/passwd",
        "/images/..%2F..%2Fetc%2Fpasswd",
        "/thumbs/%2e%2e%2f%2e%2e",
        "/images/000000000000000000000000",
        "/api/images/nope",
        "/api/images/nope/similar",
        "/static/../pyproject.toml",
        "/static/%2e%2e/pyproject.toml",
    ],
)
def test_no_file_outside_the_dataset_is_served(stack, path):
    response = requests.get(stack.api_url + path, timeout=10)
    assert response.status_code == 404
    assert "tool.pytest" not in response.text and "root:" not in response.text


def test_bad_uploads_are_400_json(stack):
    not_image = upload(stack, b"just some text", name="dog.jpg")
    assert not_image.status_code == 400
    assert not_image.json()["error"]["code"] == "invalid_image"
    missing = api(stack, "/api/search", method="POST", data={"k": "3"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "no_image"
    for k in ("0", "-1", "1000000000", "ten"):
        bad_k = upload(stack, b"x", k=k)
        assert bad_k.status_code == 400 and bad_k.json()["error"]["code"] == "invalid_k"


def test_frontend_is_served_with_security_headers(stack):
    page = api(stack, "/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_stats_and_readiness(stack):
    stats = api(stack, "/api/stats").json()
    assert stats["count"] == 30 and stats["model_matches"] is True
    assert stats["index_model"]["dim"] == 1280 + 120  # pooled features and the 120 breeds
    ready = api(stack, "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_encoder_down_gives_503_naming_it_while_browsing_works(stack):
    file = next(iter_image_files(stack.dataset_root))
    stack.processes["encoder"].stop()
    try:
        ready = api(stack, "/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "encoder_unavailable"
        search = upload(stack, file.path.read_bytes())
        assert search.status_code == 503
        assert search.json()["error"]["code"] == "encoder_unavailable"
        assert api(stack, "/api/breeds").status_code == 200
        image_id = content_id(file.path.read_bytes())
        assert api(stack, f"/api/images/{image_id}/similar").status_code == 200  # no encoder needed
    finally:
        stack.start_encoder()
    assert upload(stack, file.path.read_bytes()).status_code == 200
