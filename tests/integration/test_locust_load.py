"""The load generator (locust, headless, in a child process) against a small server of our own:
every request reaches the server as the product's clients would send it, each status is
counted under its endpoint, and the report comes back in the benchmark's JSON shape."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from scripts.bench.locust_run import run_locust
from scripts.stack.local import free_port

pytestmark = pytest.mark.integration

PHOTO = b"\xff\xd8 not really a jpeg \xff\xd9"


@pytest.fixture
def server():
    """A stand-in for the search API: ``missing`` ids are 404s; uploads must be multipart."""
    app = Flask(__name__)
    seen: Counter[str] = Counter()

    @app.get("/api/images/<image_id>/similar")
    def similar(image_id):
        seen["similar"] += 1
        return ({"error": {"code": "not_found"}}, 404) if image_id == "missing" else {"ok": 1}

    @app.post("/api/search")
    def search():
        upload = request.files.get("image")
        good = upload is not None and upload.read() == PHOTO and request.form.get("k") == "12"
        seen["upload" if good else "bad_upload"] += 1
        return ({"ok": 1}, 200) if good else ({"error": {"code": "no_image"}}, 400)

    @app.get("/api/images")
    def page():
        seen["breed_page"] += int(request.args.get("breed") == "beagle")
        return {"images": []}

    @app.get("/thumbs/<image_id>")
    def thumbnail(image_id):
        seen["thumbnail"] += 1
        return b"thumb"

    port = free_port()
    http = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", seen
    http.shutdown()
    thread.join(10)


def test_every_kind_of_request_arrives_and_failures_are_counted(server, tmp_path):
    url, seen = server
    plan = {"ids": ["a1", "missing"], "breeds": ["beagle"]}
    report = run_locust(
        "explore", url, plan, clients=4, seconds=3, report_dir=tmp_path, photos=[PHOTO]
    )
    assert set(report["endpoints"]) == {"upload", "similar", "breed_page", "thumbnail"}
    assert seen["bad_upload"] == 0 and seen["upload"] > 0 and seen["breed_page"] > 0
    similar = report["endpoints"]["similar"]["statuses"]
    assert set(similar) == {"200", "404"}
    assert report["errors"] == similar["404"]  # only the missing id failed
    assert report["requests"] == sum(seen.values())
    assert any("similar 404" in sample for sample in report["error_samples"])
    assert (tmp_path / "explore.html").exists() and (tmp_path / "explore_stats.csv").exists()
