"""Library management on the real stack: what only real servers show. Each rule of the API
(outcomes, refusals, rollbacks) is tested in-process in ``tests/unit/test_api_library.py``;
here the encoder, Milvus, ingest and gunicorn's workers take part. Every test puts back what
it changed, so the tests run in any order.
"""

from __future__ import annotations

import io
import time
from contextlib import contextmanager

import pytest
import requests
from PIL import Image

from scripts.jobs import ingest
from services.dataset import content_id, iter_image_files
from services.photo import Photo
from tests.support.stack import store_of
from tests.support.synthetic import image_bytes, jpeg_bytes

pytestmark = [pytest.mark.integration, pytest.mark.milvus]


def rows(stack) -> dict[str, Photo]:
    return {row.id: row for row in store_of(stack).all_rows()}


def add(stack, *photos: bytes, breed: str | None = None) -> requests.Response:
    files = [("image", (f"p{n}.jpg", data, "image/jpeg")) for n, data in enumerate(photos)]
    data = {"breed": breed} if breed is not None else {}
    return requests.post(f"{stack.api_url}/api/images", files=files, data=data, timeout=60)


def search_first(stack, data: bytes) -> dict:
    body = requests.post(
        f"{stack.api_url}/api/search", files={"image": ("q.jpg", data)}, timeout=60
    ).json()
    return body["results"][0]


@contextmanager
def added(stack, photo: bytes, breed: str | None = None):
    """A photo added through the API for the test's duration."""
    response = add(stack, photo, breed=breed)
    assert response.status_code == 201, response.text
    image_id = response.json()["results"][0]["id"]
    try:
        yield image_id, response.json()["results"][0]
    finally:  # deleted, then purged from the recycle bin: nothing of the test stays behind
        requests.delete(f"{stack.api_url}/api/images/{image_id}", timeout=30)
        requests.delete(f"{stack.api_url}/api/deleted/{image_id}", timeout=30)


def library_file(stack, row: dict):
    return stack.workdir / "library" / row.path.removeprefix("@library/")


def test_an_added_photo_is_stored_searchable_browsable_and_purged_with_its_file(stack):
    photo = jpeg_bytes(9001)
    with added(stack, photo, breed="chihuahua") as (image_id, result):
        assert result["breed"] == "Chihuahua"
        row = rows(stack)[image_id]
        assert library_file(stack, row).read_bytes() == photo
        first = search_first(stack, photo)
        assert first["id"] == image_id and first["similarity"] > 0.999
        page = requests.get(
            f"{stack.api_url}/api/images", params={"breed": "Chihuahua"}, timeout=10
        ).json()  # at once, on whichever worker answers: the change marker
        assert image_id in {image["id"] for image in page["images"]}
        assert requests.get(f"{stack.api_url}/images/{image_id}", timeout=10).content == photo
    assert image_id not in rows(stack) and not library_file(stack, row).exists()
    trash = stack.workdir / "library" / ".trash" / row.path.removeprefix("@library/")
    assert not trash.exists()  # purged
    for path in (f"/api/images/{image_id}", f"/thumbs/{image_id}"):
        assert requests.get(stack.api_url + path, timeout=10).status_code == 404, path


def test_relabel_moves_the_photo_in_browsing_and_filters(stack):
    photo = jpeg_bytes(9003)
    with added(stack, photo, breed="unknown") as (image_id, _):
        patched = requests.patch(
            f"{stack.api_url}/api/images/{image_id}", json={"breed": "golden retriever"}, timeout=10
        )
        assert patched.status_code == 200 and rows(stack)[image_id].breed == "golden retriever"
        page = requests.get(
            f"{stack.api_url}/api/images", params={"breed": "golden retriever"}, timeout=10
        ).json()
        assert image_id in {image["id"] for image in page["images"]}
        only_golden = requests.post(
            f"{stack.api_url}/api/search",
            files={"image": ("q.jpg", photo)},
            data={"breed": "golden retriever"},
            timeout=60,
        ).json()
        assert only_golden["results"][0]["id"] == image_id  # the vector came along unchanged


def test_delete_with_milvus_down_changes_nothing(stack):
    with added(stack, jpeg_bytes(9005)) as (image_id, _):
        row = rows(stack)[image_id]
        stack.processes["milvus"].stop()
        try:
            response = requests.delete(f"{stack.api_url}/api/images/{image_id}", timeout=30)
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "milvus_unavailable"
        finally:
            stack.start_milvus()
        assert image_id in rows(stack) and library_file(stack, row).is_file()


def test_a_deleted_dataset_photo_stays_deleted_through_ingest_until_restored(stack, capsys):
    original = sorted(iter_image_files(stack.dataset_root), key=lambda f: f.relative_path)[5]
    image_id = content_id(original.path.read_bytes())
    deleted = requests.delete(f"{stack.api_url}/api/images/{image_id}", timeout=30)
    assert deleted.status_code == 200 and deleted.json()["files_kept"] == [image_id]
    try:
        assert ingest.main(stack.ingest_args("--no-progress")) == 0  # what `make up` runs again
        assert "1 photos you deleted were left out" in capsys.readouterr().out
        assert image_id not in rows(stack)
        listed = requests.get(f"{stack.api_url}/api/deleted", timeout=10).json()["images"]
        assert {photo["id"]: photo["path"] for photo in listed}[image_id] == original.relative_path
        thumb = requests.get(f"{stack.api_url}/thumbs/{image_id}", timeout=10)
        assert thumb.status_code == 200  # still viewable, so the user can see what to restore
    finally:
        restored = requests.post(f"{stack.api_url}/api/images/{image_id}/restore", timeout=60)
    assert restored.status_code == 200 and restored.json()["status"] == "restored"
    assert rows(stack)[image_id].breed == original.breed
    assert search_first(stack, original.path.read_bytes())["id"] == image_id
    listed = requests.get(f"{stack.api_url}/api/deleted", timeout=10).json()["images"]
    assert image_id not in {photo["id"] for photo in listed}


def test_every_worker_sees_a_deletion_at_once(stack):
    """Two gunicorn workers each keep a browse catalogue: a change through one is seen by the
    other at its next request (the change marker), not after the TTL."""
    with added(stack, jpeg_bytes(9006)) as (image_id, _):
        for _ in range(6):  # several requests reach both workers
            assert requests.get(f"{stack.api_url}/api/images/{image_id}", timeout=10).ok
        started = time.monotonic()
    for _ in range(6):
        gone = requests.get(f"{stack.api_url}/api/images/{image_id}", timeout=10)
        assert gone.status_code == 404, f"served {time.monotonic() - started:.2f}s after deletion"


def test_a_deleted_photo_never_comes_back_in_a_search_or_as_a_neighbour(stack):
    """Right after the deletion, on any backend: searches read strongly after a change."""
    original = sorted(iter_image_files(stack.dataset_root), key=lambda f: f.relative_path)[7]
    image = Image.open(io.BytesIO(original.path.read_bytes()))
    copy = image_bytes(image, "JPEG", quality=70)  # the original's nearest neighbour
    response = add(stack, copy)
    assert response.status_code == 201
    copy_id = response.json()["results"][0]["id"]
    neighbours = f"{stack.api_url}/api/images/{content_id(original.path.read_bytes())}/similar"
    assert requests.get(neighbours, timeout=10).json()["results"][0]["id"] == copy_id
    deleted = requests.delete(f"{stack.api_url}/api/images/{copy_id}", timeout=30)
    assert deleted.status_code == 200
    after = requests.get(neighbours, timeout=10).json()["results"]
    assert copy_id not in {result["id"] for result in after}
    found = requests.post(
        f"{stack.api_url}/api/search", files={"image": ("q.jpg", copy)}, timeout=60
    ).json()["results"]
    assert copy_id not in {result["id"] for result in found}
