"""Browsing, stats, files, health and the page itself, in-process over fakes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from search_api.collaborators import collaborators
from services.encoder_wire import ModelInfo
from tests.support.api import api_under_test


@pytest.fixture
def api(tmp_path):
    return api_under_test(tmp_path)


def test_breeds_with_counts_and_the_labels_a_photo_can_have(api):
    body = api.client.get("/api/breeds").get_json()
    assert body["total"] == 12
    assert {(b["name"], b["id"], b["count"]) for b in body["breeds"]} == {
        ("Chihuahua", 0, 4),
        ("Japanese spaniel", 1, 4),
        ("golden retriever", 56, 4),
    }
    assert len(body["known"]) == 120 and "beagle" in body["known"]


def test_browsing_pages_through_a_breed_in_path_order(api):
    first = api.client.get("/api/images?breed=Chihuahua&per_page=3").get_json()
    second = api.client.get("/api/images?breed=Chihuahua&per_page=3&page=2").get_json()
    assert (first["total"], first["pages"], len(first["images"]), len(second["images"])) == (
        4,
        2,
        3,
        1,
    )
    paths = [i["path"] for i in first["images"] + second["images"]]
    assert paths == sorted(paths) and all(p.startswith("n02085620-Chihuahua/") for p in paths)
    image = first["images"][0]
    assert image["thumbnail_url"] == f"/thumbs/{image['id']}" and "fingerprint" not in image
    unknown = api.client.get("/api/images?breed=Unicorn")
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "unknown_breed"
    for bad in ("page=0", "per_page=201", "page=x"):
        assert api.client.get(f"/api/images?{bad}").status_code == 400, bad


def test_one_image_with_its_file_size(api):
    file = api.files[0]
    body = api.client.get(f"/api/images/{api.id_of(file)}").get_json()
    assert body["breed"] == file.breed and body["file_bytes"] == file.path.stat().st_size
    assert api.client.get(f"/api/images/{'0' * 24}").status_code == 404


OTHER_MODEL = ModelInfo("fake", 48, "0" * 16, "imagenet")


def test_stats_say_whether_the_index_matches_the_encoder(api, tmp_path):
    stats = api.client.get("/api/stats").get_json()
    assert (stats["count"], stats["model_matches"], stats["reindex_needed"]) == (12, True, False)
    assert stats["limits"]["max_k"] == 100
    api.encoder.down = True
    stats = api.client.get("/api/stats").get_json()
    assert stats["encoder_model"] is None and "unavailable" in stats["encoder_error"]
    other = api_under_test(tmp_path / "other")
    other.store.stored_model = OTHER_MODEL  # the API reads it once, then caches it for 5 s
    assert other.client.get("/api/stats").get_json()["reindex_needed"] is True


def test_original_and_cached_thumbnail(api):
    file = api.files[0]
    image_id = api.id_of(file)
    original = api.client.get(f"/images/{image_id}")
    assert original.data == file.path.read_bytes()
    assert "immutable" in original.headers["Cache-Control"]
    thumb = api.client.get(f"/thumbs/{image_id}")
    assert thumb.mimetype == "image/jpeg" and thumb.data[:2] == b"\xff\xd8"
    assert (api.settings.thumb_cache_dir / image_id[:2] / f"{image_id}.jpg").is_file()
    assert api.client.get(f"/thumbs/{image_id}").data == thumb.data


@pytest.mark.parametrize(
    "path",
    [
        "/images/../../etc/passwd",
        "/images/..%2F..%2Fetc%2Fpasswd",
        "/thumbs/%2e%2e%2f%2e%2e",
        "/images/000000000000000000000000",
        "/api/images/nope",
        "/static/../pyproject.toml",
        "/static/%2e%2e/pyproject.toml",
    ],
)
def test_nothing_outside_the_roots_is_served(api, path):
    response = api.client.get(path)
    assert response.status_code == 404 and b"tool.pytest" not in response.data
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_row_whose_path_leaves_the_dataset_is_not_served(api):
    image_id = api.id_of(api.files[0])
    api.store.photos[image_id] = replace(
        api.store.photos[image_id], path="../../../../etc/hostname"
    )
    collaborators(api.app).catalog.invalidate()
    assert api.client.get(f"/images/{image_id}").status_code == 404


def test_health_readiness_and_metrics(api, tmp_path):
    assert api.client.get("/healthz").get_json() == {"status": "ok"}
    assert api.client.get("/readyz").status_code == 200
    api.encoder.down = True
    not_ready = api.client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.get_json()["error"]["code"] == "encoder_unavailable"
    metrics = api.client.get("/metrics")
    assert b"dogsearch_http_requests_total" in metrics.data
    other = api_under_test(tmp_path / "other")
    other.store.stored_model = OTHER_MODEL
    mismatch = other.client.get("/readyz").get_json()
    assert mismatch["checks"]["index"] != "ok" and "re-index" in mismatch["checks"]["index"]


def test_the_page_is_served_with_security_headers(api):
    page = api.client.get("/")
    assert page.status_code == 200 and b"<html" in page.data.lower()
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert api.client.get("/static/js/api.js").mimetype in (
        "text/javascript",
        "application/javascript",
    )


@pytest.mark.parametrize("query", ["per_page=", "page=", "page=&per_page=3"])
def test_an_empty_page_number_is_refused(api, query):
    response = api.client.get(f"/api/images?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"].startswith("invalid_")
    assert api.client.get("/api/duplicates?limit=").get_json()["error"]["code"] == "invalid_limit"
