"""Bad input and load against the running stack: every bad request is a 4xx JSON error, the
services stay up, and nothing stored changes; a short soak sees zero errors.
"""

from __future__ import annotations

import pytest
import requests
from PIL import Image

from scripts.bench import soak
from scripts.jobs import ingest
from tests.support.stack import store_of
from tests.support.synthetic import image_bytes, make_image

pytestmark = [pytest.mark.integration, pytest.mark.milvus]

UPRIGHT = make_image(3, (300, 200))


def jpeg(image: Image.Image = UPRIGHT, **options) -> bytes:
    return image_bytes(image, "JPEG", quality=90, **options)


def exif_rotated() -> bytes:
    """The same picture stored sideways with orientation 6 (shown rotated 90 degrees)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return jpeg(UPRIGHT.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [make_image(seed, (64, 48)) for seed in range(3)]
    return image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:])


def transparent_palette_png() -> bytes:
    image = make_image(4, (64, 48)).convert("P", palette=Image.Palette.ADAPTIVE)
    return image_bytes(image, "PNG", transparency=0)


def bomb_png() -> bytes:
    """20,000 x 20,000 pixels (400 megapixels) in a few hundred kilobytes."""
    return image_bytes(Image.new("1", (20_000, 20_000)), "PNG", optimize=True)


# name -> (bytes maker, expected status, expected error code or None for success)
UPLOADS = {
    "empty file": (lambda: b"", 400, "empty_file"),
    "truncated jpeg": (lambda: jpeg()[:700], 400, "invalid_image"),
    "text named .jpg": (lambda: b"a dog, honestly\n" * 20, 400, "invalid_image"),
    "html": (lambda: b"<!doctype html><html><img src=x onerror=alert(1)></html>", 400, None),
    "decompression bomb": (bomb_png, 413, "too_many_pixels"),
    "cmyk jpeg": (lambda: jpeg(UPRIGHT.convert("CMYK")), 200, None),
    "16-bit png": (lambda: image_bytes(UPRIGHT.convert("I;16"), "PNG"), 200, None),
    "palette png with transparency": (transparent_palette_png, 200, None),
    "animated gif": (animated_gif, 200, None),
    "webp": (lambda: image_bytes(UPRIGHT, "WEBP"), 200, None),
    "exif-rotated jpeg": (exif_rotated, 200, None),
    "grayscale": (lambda: jpeg(UPRIGHT.convert("L")), 200, None),
    "1x1": (lambda: image_bytes(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), 200, None),
}


@pytest.fixture(scope="module")
def indexed(stack):
    """The stack with the synthetic dataset indexed, and what the index holds before the test."""
    assert ingest.main(stack.ingest_args("--no-progress")) == 0
    store = store_of(stack)
    before = sorted(row.id for row in store.all_rows())
    yield stack
    assert sorted(row.id for row in store.all_rows()) == before, "bad input changed the index"
    assert requests.get(stack.api_url + "/healthz", timeout=10).status_code == 200


def assert_error(response: requests.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert set(body["error"]) >= {"code", "message"} and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code


@pytest.mark.parametrize("name", UPLOADS)
def test_upload_corpus(indexed, name):
    make, status, code = UPLOADS[name]
    response = requests.post(
        indexed.api_url + "/api/search",
        files={"image": ("dog.jpg", make(), "image/jpeg")},
        data={"k": 3},
        timeout=60,
    )
    if status == 200:
        assert response.status_code == 200, response.text[:300]
        assert len(response.json()["results"]) == 3
    else:
        assert_error(response, status, code)


def test_exif_rotation_is_applied_to_the_query(indexed):
    body = requests.post(
        indexed.api_url + "/api/search", files={"image": ("r.jpg", exif_rotated())}, timeout=60
    ).json()
    assert (body["query"]["width"], body["query"]["height"]) == (300, 200)


def test_an_upload_over_the_size_limit_is_413(indexed):
    limit = requests.get(indexed.api_url + "/api/stats", timeout=10).json()["limits"]
    too_big = b"\xff\xd8" + b"\0" * (limit["max_upload_bytes"] + 128 * 1024)
    response = requests.post(
        indexed.api_url + "/api/search", files={"image": ("big.jpg", too_big)}, timeout=60
    )
    assert_error(response, 413)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("POST", "/api/search", {"files": {"image": ("", b"")}}, 400, None),
        ("POST", "/api/search", {"json": {"image": "aGVsbG8="}}, 400, "no_image"),
        (
            "POST",
            "/api/search",
            {"data": "{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/api/search",
            {"data": "k=3", "headers": {"Content-Type": "text/plain"}},
            400,
            "no_image",
        ),
        ("GET", "/api/search", {}, 405, None),
        ("GET", "/api/images?breed=Unicorn", {}, 400, "unknown_breed"),
        ("GET", "/api/images?page=0", {}, 400, "invalid_page"),
        ("GET", "/api/images?per_page=100000", {}, 400, "invalid_per_page"),
        ("GET", "/api/images?page=two", {}, 400, "invalid_page"),
        ("GET", "/api/images/ffffffffffffffffffffffff", {}, 404, "not_found"),
        ("GET", "/api/images/ffffffffffffffffffffffff/similar", {}, 404, "not_found"),
        ("GET", "/api/images/..%2F..%2Fetc%2Fpasswd/similar", {}, 404, None),
        ("GET", "/api/images/%252e%252e%252fetc/similar", {}, 404, None),
        ("GET", "/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd", {}, 404, None),
        ("GET", "/thumbs/..%5c..%5cwindows", {}, 404, None),
        ("GET", "/static/..%2f..%2fpyproject.toml", {}, 404, None),
        ("GET", "/no/such/page", {}, 404, None),
    ],
)
def test_bad_requests(indexed, method, path, kwargs, status, code):
    response = requests.request(method, indexed.api_url + path, timeout=30, **kwargs)
    assert_error(response, status, code)
    assert "root:" not in response.text and "tool.pytest" not in response.text


@pytest.mark.parametrize("k", ["0", "-1", "1000000000", "ten", "1e3"])
def test_invalid_k_on_every_search(indexed, k):
    some_id = requests.get(indexed.api_url + "/api/images", timeout=10).json()["images"][0]["id"]
    similar = requests.get(f"{indexed.api_url}/api/images/{some_id}/similar?k={k}", timeout=10)
    assert_error(similar, 400, "invalid_k")
    upload = requests.post(
        indexed.api_url + "/api/search",
        files={"image": ("q.jpg", jpeg())},
        data={"k": k},
        timeout=30,
    )
    assert_error(upload, 400, "invalid_k")


def test_unknown_breed_on_every_search(indexed):
    some_id = requests.get(indexed.api_url + "/api/images", timeout=10).json()["images"][0]["id"]
    similar = requests.get(
        f"{indexed.api_url}/api/images/{some_id}/similar", params={"breed": "Unicorn"}, timeout=10
    )
    assert_error(similar, 400, "unknown_breed")
    upload = requests.post(
        indexed.api_url + "/api/search",
        files={"image": ("q.jpg", jpeg())},
        data={"breed": "Unicorn"},
        timeout=30,
    )
    assert_error(upload, 400, "unknown_breed")


def test_cors_is_closed_and_the_ui_has_security_headers(indexed):
    response = requests.get(
        indexed.api_url + "/api/breeds", headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    page = requests.get(indexed.api_url + "/", timeout=10)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "Werkzeug" not in page.headers.get("Server", "")


def test_a_short_soak_has_no_errors(indexed):
    photos = [jpeg(make_image(seed, (400, 300))) for seed in range(6)]
    pids = {name: process.process.pid for name, process in indexed.processes.items()}
    report = soak.soak(indexed.api_url, photos, clients=20, seconds=10, pids=pids)
    samples = report["error_samples"] + report["warm_up_error_samples"]
    assert report["errors"] == 0 and report["warm_up_errors"] == 0, samples
    assert set(report["endpoints"]) == {"upload", "similar", "breed_page", "thumbnail"}
    assert report["requests"] > 50
    assert set(report["rss_mb"]) == {"milvus", "encoder", "search-api"}
    assert all(entry["after"] > 0 for entry in report["rss_mb"].values())


def test_both_services_export_prometheus_metrics(indexed):
    """Request counts by endpoint from both gunicorn workers, encoder batches, Milvus and encoder
    call times, and error counts by code. The test makes its own traffic, so it holds in any
    order."""
    some_id = requests.get(indexed.api_url + "/api/images", timeout=10).json()["images"][0]["id"]
    similar = requests.get(f"{indexed.api_url}/api/images/{some_id}/similar", timeout=30)
    assert similar.status_code == 200
    upload = requests.post(
        indexed.api_url + "/api/search", files={"image": ("q.jpg", jpeg())}, timeout=30
    )
    assert upload.status_code == 200
    bad_k = requests.get(f"{indexed.api_url}/api/images/{some_id}/similar?k=0", timeout=10)
    assert_error(bad_k, 400, "invalid_k")
    api = requests.get(indexed.api_url + "/metrics", timeout=10)
    assert api.status_code == 200 and api.headers["Content-Type"].startswith("text/plain")
    text = api.text
    assert 'dogsearch_http_requests_total{endpoint="/api/images/<raw_id>/similar"' in text
    assert 'dogsearch_milvus_seconds_count{operation="search"}' in text
    assert "dogsearch_encoder_call_seconds_count" in text
    assert 'dogsearch_errors_total{code="invalid_k"}' in text
    encoder = requests.get(indexed.encoder_url + "/metrics", timeout=10).text
    assert "dogsearch_encode_batch_size_bucket" in encoder
    assert 'dogsearch_http_requests_total{endpoint="/encode",method="POST",status="200"}' in encoder
