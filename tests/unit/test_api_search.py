"""Search endpoints in-process, over fakes: upload, URL, region, filters, "more like this",
and the errors each parameter and each dependency can give."""

from __future__ import annotations

import io
import time
from dataclasses import replace

import numpy as np
import pytest

from search_api import search as search_module
from search_api.collaborators import collaborators
from services.encoder_wire import ModelInfo
from tests.support.api import api_under_test
from tests.support.fakes import DIM, FakeEncoder
from tests.support.synthetic import image_bytes, make_image


@pytest.fixture
def api(tmp_path):
    return api_under_test(tmp_path)


def upload(api, data: bytes, **fields):
    return api.client.post(
        "/api/search", data={"image": (io.BytesIO(data), "q.jpg"), **fields}, buffered=True
    )


def code(response) -> str:
    return response.get_json()["error"]["code"]


def test_an_indexed_photo_finds_itself_first_with_timings(api):
    photo = api.files[2]
    body = upload(api, photo.path.read_bytes(), k="5").get_json()
    assert body["results"][0]["id"] == api.id_of(photo)
    assert body["results"][0]["similarity"] == pytest.approx(1.0, abs=1e-4)
    assert body["results"][0]["breed"] == photo.breed
    assert len(body["results"]) == 5 and body["k"] == 5
    similarities = [r["similarity"] for r in body["results"]]
    assert similarities == sorted(similarities, reverse=True)
    assert set(body["timings"]) >= {"encode_ms", "search_ms", "total_ms"}
    assert body["query"]["width"] == 320 and body["index_empty"] is False


def test_a_breed_restricts_the_results_and_an_unknown_one_is_refused(api):
    data = api.files[0].path.read_bytes()
    body = upload(api, data, k="20", breed="golden retriever").get_json()
    assert {r["breed"] for r in body["results"]} == {"golden retriever"}
    assert len(body["results"]) == 4
    assert code(upload(api, data, breed="Unicorn")) == "unknown_breed"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"k": "0"}, "invalid_k"),
        ({"k": "101"}, "invalid_k"),
        ({"k": "ten"}, "invalid_k"),
        ({"min_similarity": "2"}, "invalid_min_similarity"),
        ({"min_similarity": "nan"}, "invalid_min_similarity"),
        ({"duplicate_threshold": "0.1"}, "invalid_duplicate_threshold"),
        ({"hide_duplicates": "maybe"}, "invalid_hide_duplicates"),
        ({"box": "1,2,3"}, "invalid_box"),
        ({"box": "0.5,0.5,0.4,0.9"}, "invalid_box"),
    ],
)
def test_bad_parameters_are_400s_that_name_the_parameter(api, fields, expected):
    response = upload(api, api.files[0].path.read_bytes(), **fields)
    assert response.status_code == 400 and code(response) == expected


def test_bad_uploads_are_4xx_json(api):
    assert code(upload(api, b"plain text, not a photo")) == "invalid_image"
    assert code(upload(api, b"")) == "empty_file"
    missing = api.client.post("/api/search", data={"k": "3"})
    assert missing.status_code == 400 and code(missing) == "no_image"


def test_min_similarity_and_hidden_near_duplicates(api):
    data = api.files[0].path.read_bytes()
    everything = upload(api, data, k="12").get_json()["results"]
    cut = everything[5]["similarity"]
    strong = upload(api, data, k="12", min_similarity=str(cut)).get_json()["results"]
    assert strong and all(r["similarity"] >= cut for r in strong) and len(strong) < 12
    api.client.post("/api/images", data={"image": (io.BytesIO(data + b"\0"), "copy.jpg")})
    plain = upload(api, data, k="3").get_json()
    deduped = upload(api, data, k="3", hide_duplicates="true").get_json()
    assert plain["results"][1]["similarity"] > 0.999  # the copy, right after the original
    assert deduped["hidden_duplicates"] == 1 and len(deduped["results"]) == 3
    assert all(r["similarity"] < 0.999 for r in deduped["results"][1:])


def test_a_region_is_searched_alone(api):
    data = api.files[0].path.read_bytes()
    whole = upload(api, data, k="1").get_json()["results"][0]
    part = upload(api, data, k="1", box="0.5,0.5,1,1").get_json()["results"][0]
    assert part["similarity"] < whole["similarity"]


def test_search_by_url_returns_a_preview_and_fetch_errors_are_4xx(api):
    data = api.files[1].path.read_bytes()
    api.fetcher.pages["https://dogs.example/a.jpg"] = data
    body = api.client.post("/api/search", json={"url": "https://dogs.example/a.jpg"}).get_json()
    assert body["results"][0]["id"] == api.id_of(api.files[1])
    assert body["query"]["preview"].startswith("data:image/jpeg;base64,")
    failed = api.client.post("/api/search", json={"url": "https://dogs.example/none.jpg"})
    assert failed.status_code == 400 and code(failed) == "url_fetch_failed"
    malformed = api.client.post(
        "/api/search", data="{oops", headers={"Content-Type": "application/json"}
    )
    assert code(malformed) == "invalid_json"


def test_more_like_this_gives_other_photos_from_the_stored_vector(api):
    query = api.id_of(api.files[3])
    calls = api.encoder.calls
    body = api.client.get(f"/api/images/{query}/similar?k=4").get_json()
    assert len(body["results"]) == 4 and query not in {r["id"] for r in body["results"]}
    assert api.encoder.calls == calls  # nothing was encoded again
    assert body["query"]["id"] == query
    only = api.client.get(f"/api/images/{query}/similar?k=50&breed=Chihuahua").get_json()
    assert {r["breed"] for r in only["results"]} == {"Chihuahua"}
    assert api.client.get(f"/api/images/{'f' * 24}/similar").status_code == 404
    assert api.client.get("/api/images/..%2F..%2Fetc/similar").status_code == 404


def test_a_dependency_that_is_down_is_a_503_naming_it(api):
    data = api.files[0].path.read_bytes()
    api.encoder.down = True
    assert (upload(api, data).status_code, code(upload(api, data))) == (503, "encoder_unavailable")
    query = api.id_of(api.files[0])
    assert api.client.get(f"/api/images/{query}/similar").status_code == 200  # no encoder needed
    api.encoder.down, api.store.down = False, True
    assert code(upload(api, data)) == "milvus_unavailable"
    assert api.client.get(f"/api/images/{query}/similar").status_code == 503


def test_an_index_of_another_model_refuses_photo_searches(api):
    api.store.stored_model = ModelInfo("fake", 48, "0" * 16, "imagenet")
    response = upload(api, api.files[0].path.read_bytes())
    assert response.status_code == 409 and code(response) == "model_mismatch"


def test_an_empty_index_says_so(tmp_path):
    api = api_under_test(tmp_path, per_breed=1)
    api.store.photos.clear()
    api.store.stored_model = None
    body = upload(api, image_bytes(make_image(5), "PNG")).get_json()
    assert body["index_empty"] is True and body["results"] == []


def test_more_like_this_hides_copies_of_the_query_when_asked(api):
    original = api.files[0].path.read_bytes()
    copy = api.client.post("/api/images", data={"image": (io.BytesIO(original + b"\0"), "c.jpg")})
    copy_id = copy.get_json()["results"][0]["id"]
    url = f"/api/images/{api.id_of(api.files[0])}/similar?k=3"
    assert api.client.get(url).get_json()["results"][0]["id"] == copy_id
    hidden = api.client.get(url + "&hide_duplicates=true").get_json()
    assert copy_id not in {r["id"] for r in hidden["results"]} and len(hidden["results"]) == 3
    assert hidden["hidden_duplicates"] == 1


def test_every_photo_search_says_what_the_photo_looks_like_and_how_close_the_match_is(api):
    body = upload(api, api.files[0].path.read_bytes()).get_json()
    assert body["query"]["predictions"][0] == {
        "breed": "golden retriever",
        "breed_id": 56,
        "probability": 0.9,
    }
    assert body["query"]["dog"] == {"is_dog": True, "score": 0.93, "threshold": 0.5}
    assert body["match"]["strength"] == "strong"  # the photo itself is in the index
    assert body["match"]["best_similarity"] == pytest.approx(1.0, abs=1e-4)
    similar = api.client.get(f"/api/images/{api.id_of(api.files[0])}/similar").get_json()
    assert similar["match"]["strength"] in ("strong", "weak", "none") and "dog" not in similar


def test_a_photo_that_is_not_a_dog_says_so_and_still_gets_its_nearest_photos(api):
    api.encoder.dog_score = 0.04
    body = upload(api, image_bytes(make_image(77), "PNG"), k="3").get_json()
    assert body["query"]["dog"]["is_dog"] is False and len(body["results"]) == 3


def test_no_close_match_when_the_best_result_is_under_the_calibrated_bound(tmp_path):
    api = api_under_test(tmp_path)
    fussy = ModelInfo("fake", 48, "f" * 16, "imagenet", match_strong=0.9999, match_weak=0.9995)
    api.encoder.model = api.store.stored_model = fussy
    body = upload(api, image_bytes(make_image(78), "PNG")).get_json()
    assert body["match"]["strength"] == "none" and body["results"]  # shown, but said


def test_a_near_copy_comes_first_even_when_its_breed_part_swung(tmp_path):
    """A re-saved copy's breed distribution can swing to another breed; its look still finds
    the original, which comes first marked ``near_copy`` (its vector cosine alone: 0.1)."""
    model = ModelInfo("fake-breed-part", DIM + 2, "b" * 16, "imagenet", appearance_dims=DIM)
    encoder = FakeEncoder(model)
    encoder.breed_part = np.array([0.0, 3.0])
    api = api_under_test(tmp_path, encoder=encoder)
    photo = api.files[2]
    encoder.breed_part = np.array([3.0, 0.0])  # the stored original: the other breed
    _, (original,) = encoder.encode([("original.jpg", photo.path.read_bytes())])
    api.store.photos[api.id_of(photo)] = replace(
        api.store.photos[api.id_of(photo)], vector=original.vector
    )
    encoder.breed_part = np.array([0.0, 3.0])

    body = upload(api, photo.path.read_bytes(), k="3").get_json()
    first, *others = body["results"]
    assert first["id"] == api.id_of(photo) and first["near_copy"] is True
    assert first["similarity"] == pytest.approx(1.0, abs=1e-4)
    assert len(others) == 2 and not any(result["near_copy"] for result in others)
    assert body["match"]["best_similarity"] == pytest.approx(1.0, abs=1e-4)
    # The breed-aware ranking alone ranks it below every other photo.
    vector = np.concatenate([original.vector[:DIM], [0.0, 3.0 / np.sqrt(10)]])
    ranked = api.store.search(vector / np.linalg.norm(vector), len(api.files))
    assert ranked[-1].id == api.id_of(photo)


def test_near_copies_are_only_photos_that_look_nearly_the_same(tmp_path):
    model = ModelInfo("fake-breed-part", DIM + 2, "b" * 16, "imagenet", appearance_dims=DIM)
    encoder = FakeEncoder(model)
    encoder.breed_part = np.array([0.0, 3.0])
    api = api_under_test(tmp_path, encoder=encoder)
    stranger = image_bytes(make_image(seed=987, size=(200, 150)))
    body = upload(api, stranger, k="5").get_json()
    assert not any(result["near_copy"] for result in body["results"])


@pytest.mark.parametrize(
    ("name", "send"),
    [
        ("k", "form"),
        ("min_similarity", "query"),
        ("hide_duplicates", "form"),
        ("k", "json"),
        ("hide_duplicates", "json"),
    ],
)
def test_an_empty_number_or_switch_is_refused_as_the_document_says(api, name, send):
    """The document says ``k`` is an integer: ``k=`` is not one (schemathesis found it taken
    as the default)."""
    photo = api.files[0].path.read_bytes()
    if send == "form":
        response = upload(api, photo, **{name: ""})
    elif send == "query":
        response = api.client.post(
            f"/api/search?{name}=", data={"image": (io.BytesIO(photo), "q.jpg")}, buffered=True
        )
    else:
        api.fetcher.pages["https://example.com/a.jpg"] = photo
        response = api.client.post(
            "/api/search", json={"url": "https://example.com/a.jpg", name: ""}
        )
    assert response.status_code == 400, response.get_json()
    assert code(response) == f"invalid_{name}"
    assert upload(api, photo, breed="").status_code == 200  # an empty breed: every breed


class SlowStore:
    """The store with each request ``SLOW`` s slower, the requests counted."""

    SLOW = 0.03
    REQUESTS = ("get", "search", "search_many", "model")

    def __init__(self, store):
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name):
        attribute = getattr(self._store, name)
        if name not in self.REQUESTS:
            return attribute

        def slowed(*args, **kwargs):
            self.calls.append(name)
            time.sleep(self.SLOW)
            return attribute(*args, **kwargs)

        return slowed


def test_timings_show_the_time_in_milvus_requests_apart(tmp_path, monkeypatch):
    """``milvus_ms`` is the time inside the store's requests and not the API's own work: "more
    like this" reads the stored vector, then searches both queries (the whole vector and the
    look) in one request; an upload only searches. Each request and the scoring are made 30 ms
    slow here, so a request missed or the scoring counted shows."""
    model = replace(FakeEncoder().model, dim=DIM + 2, appearance_dims=DIM)  # two queries
    encoder = FakeEncoder(model)
    encoder.breed_part = np.array([0.0, 3.0])  # the vectors' breed part: DIM + 2 in all
    api = api_under_test(tmp_path, encoder=encoder)
    store = SlowStore(api.store)
    service = collaborators(api.app).search
    monkeypatch.setattr(service, "store", store)
    real_scored = search_module.scored

    def slow_scored(*args, **kwargs):
        time.sleep(SlowStore.SLOW)
        return real_scored(*args, **kwargs)

    monkeypatch.setattr(search_module, "scored", slow_scored)
    service.collection_model(fresh=True)  # cached, so the model is not read below
    store.calls.clear()
    slow_ms = SlowStore.SLOW * 1000

    image_id = api.id_of(api.files[0])
    similar = api.client.get(f"/api/images/{image_id}/similar?k=3").get_json()["timings"]
    assert store.calls == ["get", "search_many"]
    assert 2 * slow_ms <= similar["milvus_ms"] <= similar["total_ms"] - slow_ms
    assert similar["fetch_ms"] >= slow_ms and similar["search_ms"] >= 2 * slow_ms

    store.calls.clear()
    searched = upload(api, api.files[1].path.read_bytes(), k="3").get_json()["timings"]
    assert store.calls == ["search_many"]
    assert slow_ms <= searched["milvus_ms"] <= searched["search_ms"] - slow_ms

    store.calls.clear()  # the collection's model read again (its cache run out) counts too
    monkeypatch.setattr(search_module, "MODEL_CACHE_S", -1.0)
    again = api.client.get(f"/api/images/{image_id}/similar?k=3").get_json()["timings"]
    assert store.calls == ["get", "model", "search_many"]
    assert 3 * slow_ms <= again["milvus_ms"] <= again["total_ms"] - slow_ms
