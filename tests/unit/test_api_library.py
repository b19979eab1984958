"""Library endpoints in-process over fakes: add, delete (one, many, a breed), relabel,
near-duplicates, and deleted photos with restore. Rows and files are checked to stay in step."""

from __future__ import annotations

import io

import pytest

from services.dataset import content_id
from tests.support.api import api_under_test
from tests.support.synthetic import image_bytes, jpeg_bytes, make_image


@pytest.fixture
def api(tmp_path):
    return api_under_test(tmp_path)


def add(api, *photos: bytes, breed: str | None = None):
    files = [(io.BytesIO(data), f"p{n}.jpg") for n, data in enumerate(photos)]
    data = {"image": files, **({"breed": breed} if breed is not None else {})}
    return api.client.post("/api/images", data=data)


def code(response) -> str:
    return response.get_json()["error"]["code"]


def test_an_added_photo_is_stored_searchable_and_browsable_at_once(api):
    photo = jpeg_bytes(9001)
    response = add(api, photo, breed="chihuahua")
    assert response.status_code == 201
    (result,) = response.get_json()["results"]
    assert (result["status"], result["breed"]) == ("added", "Chihuahua")
    row = api.store.photos[content_id(photo)]
    assert row.path.startswith("@library/Chihuahua/") and row.split == ""
    assert (api.settings.library_dir / row.path.removeprefix("@library/")).read_bytes() == photo
    search = api.client.post("/api/search", data={"image": (io.BytesIO(photo), "q.jpg")})
    assert search.get_json()["results"][0]["id"] == content_id(photo)
    page = api.client.get("/api/images?breed=Chihuahua").get_json()
    assert content_id(photo) in {image["id"] for image in page["images"]}
    again = add(api, photo, breed="Chihuahua")
    assert again.status_code == 200 and again.get_json()["results"][0]["status"] == "exists"


def test_many_at_once_each_with_its_own_outcome(api):
    png = image_bytes(make_image(9002), "PNG")
    response = add(api, png, b"not a photo", jpeg_bytes(9003), breed="unknown")
    assert response.status_code == 201
    statuses = [result["status"] for result in response.get_json()["results"]]
    assert statuses == ["added", "failed", "added"]
    again = add(api, png, breed="beagle").get_json()["results"][0]
    assert (again["status"], again["breed"]) == ("exists", "unknown")  # says what it keeps
    row = api.store.photos[content_id(png)]
    assert (row.breed, row.breed_id) == ("unknown", -1) and row.path.endswith(".png")
    every_one_failed = add(api, b"nope", b"nor this")
    assert every_one_failed.status_code == 400 and code(every_one_failed) == "invalid_image"


def test_add_refusals(api):
    assert code(add(api, jpeg_bytes(9004), breed="Unicorn")) == "unknown_breed"
    assert content_id(jpeg_bytes(9004)) not in api.store.photos
    assert code(api.client.post("/api/images")) == "no_image"
    too_many = add(api, *[jpeg_bytes(n) for n in range(65)])
    assert too_many.status_code == 413 and code(too_many) == "too_many_images"


def test_a_deleted_library_photo_can_be_undone_then_purged(api):
    photo = jpeg_bytes(9005)
    image_id = add(api, photo).get_json()["results"][0]["id"]
    relative = api.store.photos[image_id].path.removeprefix("@library/")
    stored = api.settings.library_dir / relative
    assert api.client.get(f"/thumbs/{image_id}").status_code == 200
    thumb = api.settings.thumb_cache_dir / image_id[:2] / f"{image_id}.jpg"
    response = api.client.delete(f"/api/images/{image_id}")
    assert response.status_code == 200 and response.get_json()["deleted"] == [image_id]
    assert image_id not in api.store.photos and not stored.exists() and not thumb.exists()
    assert (api.settings.library_dir / ".trash" / relative).read_bytes() == photo
    for path in (f"/api/images/{image_id}", f"/api/images/{image_id}/similar"):
        assert api.client.get(path).status_code == 404, path
    assert api.client.get(f"/thumbs/{image_id}").status_code == 200  # seen in the bin
    assert api.client.delete(f"/api/images/{image_id}").status_code == 404
    (listed,) = api.client.get("/api/deleted").get_json()["images"]
    assert (listed["id"], listed["in_library"]) == (image_id, True)
    assert api.client.post(f"/api/images/{image_id}/restore").get_json()["status"] == "restored"
    assert stored.read_bytes() == photo and image_id in api.store.photos
    api.client.delete(f"/api/images/{image_id}")
    assert api.client.delete(f"/api/deleted/{image_id}").get_json()["status"] == "purged"
    assert not (api.settings.library_dir / ".trash" / relative).exists()
    assert api.client.get(f"/thumbs/{image_id}").status_code == 404
    assert api.client.get("/api/deleted").get_json()["total"] == 0


def test_delete_with_milvus_down_changes_nothing(api):
    image_id = api.id_of(api.files[0])
    api.store.down = True
    response = api.client.delete(f"/api/images/{image_id}")
    assert response.status_code == 503 and code(response) == "milvus_unavailable"
    api.store.down = False
    assert image_id in api.store.photos and api.deleted.all() == []


def test_bulk_delete_by_breed_and_by_ids(api):
    chihuahuas = api.ids_of_breed("Chihuahua")
    by_breed = api.client.post("/api/images/delete", json={"breed": "Chihuahua"})
    assert sorted(by_breed.get_json()["deleted"]) == sorted(chihuahuas)
    assert not any(row.breed == "Chihuahua" for row in api.store.photos.values())
    original = api.id_of(api.files[5])
    by_ids = api.client.post("/api/images/delete", json={"ids": [original, "f" * 24]}).get_json()
    assert (by_ids["deleted"], by_ids["missing"]) == ([original], ["f" * 24])
    assert by_ids["files_kept"] == [original] and api.files[5].path.is_file()
    for body in ({}, {"ids": "abc"}, {"ids": [], "breed": "beagle"}, {"breed": "Unicorn"}):
        assert api.client.post("/api/images/delete", json=body).status_code == 400, body


def test_a_deleted_original_is_listed_viewable_and_restorable(api):
    file = api.files[4]
    image_id = api.id_of(file)
    api.client.delete(f"/api/images/{image_id}")
    listed = api.client.get("/api/deleted").get_json()
    assert [(p["id"], p["path"]) for p in listed["images"]] == [(image_id, file.relative_path)]
    assert api.client.get(f"/thumbs/{image_id}").status_code == 200  # seen before restoring
    restored = api.client.post(f"/api/images/{image_id}/restore")
    assert restored.status_code == 200 and restored.get_json()["status"] == "restored"
    assert api.store.photos[image_id].breed == file.breed
    assert api.client.get("/api/deleted").get_json()["total"] == 0
    assert api.client.post(f"/api/images/{'f' * 24}/restore").status_code == 404


def test_adding_a_deleted_original_again_keeps_one_truth(api):
    file = api.files[4]
    image_id = api.id_of(file)
    api.client.delete(f"/api/images/{image_id}")
    added = add(api, file.path.read_bytes(), breed="Kuvasz").get_json()["results"][0]
    assert (added["status"], added["breed"].casefold()) == ("added", "kuvasz")
    assert api.client.get("/api/deleted").get_json()["total"] == 0
    restored = api.client.post(f"/api/images/{image_id}/restore")
    assert restored.get_json()["status"] == "exists"
    row = api.store.photos[image_id]
    assert row.breed == added["breed"] and row.path.startswith("@library/")
    assert (api.settings.library_dir / row.path.removeprefix("@library/")).is_file()


def test_relabel_moves_a_photo_between_breeds_in_browsing(api):
    image_id = api.id_of(api.files[0])
    response = api.client.patch(f"/api/images/{image_id}", json={"breed": "golden retriever"})
    assert response.status_code == 200 and response.get_json()["breed"] == "golden retriever"
    golden = api.client.get("/api/images?breed=golden retriever").get_json()
    assert image_id in {image["id"] for image in golden["images"]}
    for body, expected in (
        ({"breed": "Unicorn"}, "unknown_breed"),
        ({"breed": 3}, "invalid_breed"),
    ):
        assert code(api.client.patch(f"/api/images/{image_id}", json=body)) == expected
    malformed = api.client.patch(
        f"/api/images/{image_id}", data="{oops", headers={"Content-Type": "application/json"}
    )
    assert code(malformed) == "invalid_json"
    assert api.client.patch(f"/api/images/{'f' * 24}", json={"breed": "pug"}).status_code == 404


def test_near_duplicate_groups(api):
    original = api.files[0].path.read_bytes()
    copy_id = add(api, original + b"\0").get_json()["results"][0]["id"]
    body = api.client.get("/api/duplicates?threshold=0.999").get_json()
    (group,) = body["groups"]
    assert {image["id"] for image in group["images"]} == {api.id_of(api.files[0]), copy_id}
    assert body["compared"] == 13 and group["max_similarity"] >= 0.999
    assert api.client.get("/api/duplicates?threshold=0.2").status_code == 400


def test_the_duplicate_groups_follow_a_change_that_keeps_the_count(api):
    original = api.files[0].path.read_bytes()
    copy_id = add(api, original + b"\0").get_json()["results"][0]["id"]
    assert len(api.client.get("/api/duplicates?threshold=0.999").get_json()["groups"]) == 1
    api.client.delete(f"/api/images/{copy_id}")
    add(api, jpeg_bytes(9010))  # the count is back where it was with the copy
    assert api.client.get("/api/duplicates?threshold=0.999").get_json()["groups"] == []
