"""Library management through the API: add, relabel, delete (one, many, a breed), and the
failure paths, with Milvus rows and files checked to stay in step.
"""

from __future__ import annotations

import time

import pytest
import requests

from scripts.jobs import ingest
from services.dataset import content_id, iter_image_files
from services.settings import MilvusSettings
from services.vectorstore import VectorStore
from tests.support.synthetic import image_bytes, jpeg_bytes, make_image

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def library(stack):
    assert ingest.main(stack.ingest_args("--no-progress")) == 0
    yield stack
    # Leave the session's stack as the other modules expect it: the synthetic dataset only.
    store = VectorStore(MilvusSettings(uri=stack.milvus_uri))
    extra = [row["id"] for row in store.all_rows() if row["path"].startswith("@library/")]
    store.delete(extra)
    deleted = requests.get(f"{stack.api_url}/api/deleted", timeout=10).json()["images"]
    for photo in deleted:
        restore = f"{stack.api_url}/api/images/{photo['id']}/restore"
        assert requests.post(restore, timeout=60).status_code == 200


def rows(stack) -> dict[str, dict]:
    return {row["id"]: row for row in VectorStore(MilvusSettings(uri=stack.milvus_uri)).all_rows()}


def add(stack, *photos: bytes, breed: str | None = None) -> requests.Response:
    files = [("image", (f"p{n}.jpg", data, "image/jpeg")) for n, data in enumerate(photos)]
    data = {"breed": breed} if breed is not None else {}
    return requests.post(f"{stack.api_url}/api/images", files=files, data=data, timeout=60)


def eventually_404(url: str) -> None:
    """Each API worker's browse catalogue may lag by its TTL (0.5 s here); then it is gone."""
    deadline = time.monotonic() + 5
    while requests.get(url, timeout=10).status_code != 404:
        assert time.monotonic() < deadline, f"{url} is still served after the deletion"
        time.sleep(0.2)


def library_file(stack, row: dict):
    return stack.workdir / "library" / row["path"].removeprefix("@library/")


def test_an_added_photo_is_stored_searchable_and_browsable_at_once(library):
    photo = jpeg_bytes(9001)
    response = add(library, photo, breed="chihuahua")
    assert response.status_code == 201
    (result,) = response.json()["results"]
    assert result["status"] == "added" and result["breed"] == "Chihuahua"
    row = rows(library)[result["id"]]
    assert library_file(library, row).read_bytes() == photo
    search = requests.post(
        f"{library.api_url}/api/search", files={"image": ("q.jpg", photo)}, timeout=60
    ).json()
    assert search["results"][0]["id"] == content_id(photo)
    assert search["results"][0]["similarity"] > 0.999
    page = requests.get(
        f"{library.api_url}/api/images", params={"breed": "Chihuahua", "per_page": 200}, timeout=10
    ).json()
    assert content_id(photo) in {image["id"] for image in page["images"]}
    assert (
        requests.get(f"{library.api_url}/images/{content_id(photo)}", timeout=10).content == photo
    )
    again = add(library, photo, breed="Chihuahua")
    assert again.status_code == 200 and again.json()["results"][0]["status"] == "exists"


def test_many_at_once_each_with_its_own_outcome(library):
    png = image_bytes(make_image(9002), "PNG")
    response = add(library, png, b"not a photo", jpeg_bytes(9003), breed="unknown")
    assert response.status_code == 201
    statuses = [result["status"] for result in response.json()["results"]]
    assert statuses == ["added", "failed", "added"]
    assert response.json()["results"][1]["error"]["code"] == "invalid_image"
    row = rows(library)[content_id(png)]
    assert row["breed"] == "unknown" and row["breed_id"] == -1 and row["path"].endswith(".png")


def test_add_refuses_an_unknown_breed_and_an_empty_request(library):
    refused = add(library, jpeg_bytes(9004), breed="Unicorn")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "unknown_breed"
    assert content_id(jpeg_bytes(9004)) not in rows(library)
    empty = requests.post(f"{library.api_url}/api/images", timeout=10)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "no_image"


def test_relabel_is_reflected_in_browsing(library):
    image_id = content_id(jpeg_bytes(9003))
    response = requests.patch(
        f"{library.api_url}/api/images/{image_id}", json={"breed": "golden retriever"}, timeout=10
    )
    assert response.status_code == 200 and response.json()["breed"] == "golden retriever"
    assert rows(library)[image_id]["breed"] == "golden retriever"
    page = requests.get(
        f"{library.api_url}/api/images", params={"breed": "golden retriever"}, timeout=10
    ).json()
    assert image_id in {image["id"] for image in page["images"]}
    search = requests.post(
        f"{library.api_url}/api/search", files={"image": ("q.jpg", jpeg_bytes(9003))}, timeout=60
    ).json()
    assert search["results"][0]["id"] == image_id  # the vector came along unchanged
    assert search["results"][0]["breed"] == "golden retriever"
    for body, code in (({"breed": "Unicorn"}, "unknown_breed"), ({"breed": 3}, "invalid_breed")):
        bad = requests.patch(f"{library.api_url}/api/images/{image_id}", json=body, timeout=10)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == code
    malformed = requests.patch(
        f"{library.api_url}/api/images/{image_id}",
        data="{oops",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_json"
    missing = requests.patch(
        f"{library.api_url}/api/images/{'f' * 24}", json={"breed": "beagle"}, timeout=10
    )
    assert missing.status_code == 404


def test_delete_with_milvus_down_changes_nothing(library):
    image_id = content_id(jpeg_bytes(9001))
    row = rows(library)[image_id]
    library.processes["milvus"].stop()
    try:
        response = requests.delete(f"{library.api_url}/api/images/{image_id}", timeout=30)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "milvus_unavailable"
    finally:
        library.start_milvus()
    assert image_id in rows(library) and library_file(library, row).is_file()


def test_delete_one_removes_row_file_and_thumbnail(library):
    image_id = content_id(jpeg_bytes(9001))
    row = rows(library)[image_id]
    assert requests.get(f"{library.api_url}/thumbs/{image_id}", timeout=10).status_code == 200
    thumb = library.workdir / "thumbs" / image_id[:2] / f"{image_id}.jpg"
    assert thumb.is_file()
    response = requests.delete(f"{library.api_url}/api/images/{image_id}", timeout=30)
    assert response.status_code == 200 and response.json()["deleted"] == [image_id]
    assert image_id not in rows(library)
    assert not library_file(library, row).exists() and not thumb.exists()
    for path in (
        f"/api/images/{image_id}",
        f"/api/images/{image_id}/similar",
        f"/thumbs/{image_id}",
    ):
        eventually_404(library.api_url + path)
    again = requests.delete(f"{library.api_url}/api/images/{image_id}", timeout=10)
    assert again.status_code == 404


def test_bulk_delete_by_breed_and_by_ids(library):
    unknown = [i for i, row in rows(library).items() if row["breed"] == "unknown"]
    assert unknown
    by_breed = requests.post(
        f"{library.api_url}/api/images/delete", json={"breed": "unknown"}, timeout=30
    )
    assert by_breed.status_code == 200 and sorted(by_breed.json()["deleted"]) == sorted(unknown)
    assert not any(row["breed"] == "unknown" for row in rows(library).values())

    original = next(iter_image_files(library.dataset_root))
    original_id = content_id(original.path.read_bytes())
    by_ids = requests.post(
        f"{library.api_url}/api/images/delete", json={"ids": [original_id, "f" * 24]}, timeout=30
    ).json()
    assert by_ids["deleted"] == [original_id] and by_ids["missing"] == ["f" * 24]
    assert by_ids["files_kept"] == [original_id]  # a dataset original is a read-only source
    assert original.path.is_file() and original_id not in rows(library)
    for body in ({}, {"ids": "abc"}, {"ids": [], "breed": "beagle"}, {"breed": "Unicorn"}):
        bad = requests.post(f"{library.api_url}/api/images/delete", json=body, timeout=10)
        assert bad.status_code == 400, body


def test_a_deleted_dataset_photo_stays_deleted_through_ingest_until_restored(library, capsys):
    original = list(iter_image_files(library.dataset_root))[5]
    image_id = content_id(original.path.read_bytes())
    deleted = requests.delete(f"{library.api_url}/api/images/{image_id}", timeout=30)
    assert deleted.status_code == 200 and deleted.json()["files_kept"] == [image_id]

    assert ingest.main(library.ingest_args("--no-progress")) == 0  # what `make up` runs again
    assert "photos you deleted were left out" in capsys.readouterr().out
    assert image_id not in rows(library)
    listed = requests.get(f"{library.api_url}/api/deleted", timeout=10).json()["images"]
    assert {photo["id"]: photo["path"] for photo in listed}[image_id] == original.relative_path
    thumb = requests.get(f"{library.api_url}/thumbs/{image_id}", timeout=10)
    assert thumb.status_code == 200  # still viewable, so the user can see what to restore

    restored = requests.post(f"{library.api_url}/api/images/{image_id}/restore", timeout=60)
    assert restored.status_code == 200 and restored.json()["status"] == "restored"
    assert rows(library)[image_id]["breed"] == original.breed
    search = requests.post(
        f"{library.api_url}/api/search",
        files={"image": ("q.jpg", original.path.read_bytes())},
        timeout=60,
    ).json()
    assert search["results"][0]["id"] == image_id
    listed = requests.get(f"{library.api_url}/api/deleted", timeout=10).json()["images"]
    assert image_id not in {photo["id"] for photo in listed}
    missing = requests.post(f"{library.api_url}/api/images/{'f' * 24}/restore", timeout=10)
    assert missing.status_code == 404
