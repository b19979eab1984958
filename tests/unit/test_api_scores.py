"""What each number of a search result says, in-process over fakes: ``similarity`` (the whole
breed-aware vector), ``look`` (the look part alone) and ``same_breed`` (the query's breed),
for upload, URL and "more like this" searches; vectors stay out of the JSON."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import jsonschema
import numpy as np
import pytest

from search_api.search import scored
from services.encoder_wire import ModelInfo, Prediction
from services.photo import Photo
from services.vectorstore import Hit
from tests.support.api import api_under_test
from tests.support.fakes import DIM, FakeEncoder

SAME, OTHER = np.array([0.0, 3.0]), np.array([3.0, 0.0])  # breed parts, as the recipe weighs them
# Near-copies off (copy_from above any cosine), so each similarity is the plain vector cosine.
BREED_AWARE = ModelInfo("fake-breed-part", DIM + 2, "b" * 16, "imagenet", appearance_dims=DIM)
NO_COPIES = ModelInfo(
    "fake-breed-part", DIM + 2, "b" * 16, "imagenet", appearance_dims=DIM, copy_from=2.0
)


def upload(api, data: bytes, **fields):
    return api.client.post(
        "/api/search", data={"image": (io.BytesIO(data), "q.jpg"), **fields}, buffered=True
    )


def breed_aware_api(tmp_path, model: ModelInfo = NO_COPIES):
    """Every photo indexed with the breed part ``SAME``, as confident photos of one breed are."""
    encoder = FakeEncoder(model)
    encoder.breed_part = SAME
    return api_under_test(tmp_path, encoder=encoder)


def encoded(api, data: bytes, breed_part: np.ndarray) -> np.ndarray:
    before = api.encoder.breed_part
    api.encoder.breed_part = breed_part
    _, (image,) = api.encoder.encode([("photo.jpg", data)])
    api.encoder.breed_part = before
    return image.vector


def look_part(vector: np.ndarray) -> np.ndarray:
    part = np.asarray(vector, np.float32)[:DIM]
    return part / np.linalg.norm(part)


def by_id(body) -> dict[str, dict]:
    return {result["id"]: result for result in body["results"]}


def test_look_is_the_cosine_of_the_look_parts_alone(tmp_path):
    api = breed_aware_api(tmp_path)
    query, twin, stranger = api.files[0], api.files[5], api.files[9]
    data = query.path.read_bytes()
    # ``twin`` looks exactly like the query but its breed part says another breed.
    api.store.photos[api.id_of(twin)] = replace(
        api.store.photos[api.id_of(twin)], vector=encoded(api, data, OTHER)
    )
    results = by_id(upload(api, data, k=str(len(api.files))).get_json())

    looks_alike = results[api.id_of(twin)]
    assert looks_alike["look"] == pytest.approx(1.0, abs=1e-4)
    assert looks_alike["similarity"] == pytest.approx(0.1, abs=1e-4)  # (1 + 0) / (1 + 9)

    # ``stranger`` shares the query's breed part but not its look.
    same_breed = results[api.id_of(stranger)]
    stored = api.store.photos[api.id_of(stranger)].vector
    expected = float(look_part(stored) @ look_part(encoded(api, data, SAME)))
    assert same_breed["look"] == pytest.approx(expected, abs=1e-4) and expected < 0.99
    assert same_breed["similarity"] == pytest.approx((expected + 9) / 10, abs=1e-4)
    assert same_breed["similarity"] > same_breed["look"]


def test_look_is_rounded_and_clamped_like_similarity(tmp_path):
    api = breed_aware_api(tmp_path)
    body = upload(api, api.files[2].path.read_bytes(), k="5").get_json()
    first = body["results"][0]
    assert first["id"] == api.id_of(api.files[2]) and first["look"] == 1.0
    for result in body["results"]:
        assert 0.0 <= result["look"] <= 1.0
        assert result["look"] == round(result["look"], 5)


def test_same_breed_follows_the_encoders_top_guess(tmp_path):
    api = api_under_test(tmp_path)
    data, everything = api.files[0].path.read_bytes(), str(len(api.files))
    results = upload(api, data, k=everything).get_json()["results"]
    assert {(r["breed"], r["same_breed"]) for r in results} == {
        ("golden retriever", True),
        ("Chihuahua", False),
        ("Japanese spaniel", False),
    }
    api.encoder.predictions = [Prediction("chihuahua", 0, 0.7)]  # any case names the breed
    results = upload(api, data, k=everything).get_json()["results"]
    assert {r["id"] for r in results if r["same_breed"]} == set(api.ids_of_breed("Chihuahua"))
    api.encoder.predictions = []  # no guess: unknown
    body = upload(api, data, k="3").get_json()
    assert body["query"]["predictions"] == []
    assert [r["same_breed"] for r in body["results"]] == [None] * 3


def test_search_by_url_is_scored_as_an_upload(tmp_path):
    api = breed_aware_api(tmp_path)
    golden = next(f for f in api.files if f.breed == "golden retriever")  # the encoder's guess
    data = golden.path.read_bytes()
    api.fetcher.pages["https://dogs.example/a.jpg"] = data
    body = api.client.post("/api/search", json={"url": "https://dogs.example/a.jpg"}).get_json()
    assert body["results"][0]["look"] == 1.0 and body["results"][0]["same_breed"] is True
    assert by_id(body) == by_id(upload(api, data, k=str(body["k"])).get_json())


def test_more_like_this_compares_with_the_photos_stored_breed(tmp_path):
    api = breed_aware_api(tmp_path)
    source = next(f for f in api.files if f.breed == "Japanese spaniel")
    body = api.client.get(f"/api/images/{api.id_of(source)}/similar?k=50").get_json()
    assert body["query"]["breed"] == "Japanese spaniel"
    assert {(r["breed"], r["same_breed"]) for r in body["results"]} == {
        ("Japanese spaniel", True),
        ("Chihuahua", False),
        ("golden retriever", False),
    }
    stored = api.store.photos[api.id_of(source)].vector
    for result in body["results"]:
        other = api.store.photos[result["id"]].vector
        assert result["look"] == pytest.approx(look_part(other) @ look_part(stored), abs=1e-4)


@pytest.mark.parametrize("model", [BREED_AWARE, NO_COPIES], ids=["near-copies", "no-copies"])
@pytest.mark.parametrize("hide", ["false", "true"])
def test_vectors_never_appear_in_the_json(tmp_path, model, hide):
    api = breed_aware_api(tmp_path, model)
    data = api.files[1].path.read_bytes()
    api.fetcher.pages["https://dogs.example/b.jpg"] = data
    photo_id = api.id_of(api.files[1])
    answers = [
        upload(api, data, k="8", hide_duplicates=hide),
        api.client.post(
            "/api/search", json={"url": "https://dogs.example/b.jpg", "hide_duplicates": hide}
        ),
        api.client.get(f"/api/images/{photo_id}/similar?k=8&hide_duplicates={hide}"),
    ]
    for answer in answers:
        assert answer.status_code == 200
        results = answer.get_json()["results"]
        assert results and all("vector" not in result for result in results)
        assert "vector" not in json.dumps(answer.get_json())


def test_the_answers_fit_the_documented_hit_schema(tmp_path):
    api = breed_aware_api(tmp_path, BREED_AWARE)
    document = api.client.get("/api/openapi.json").get_json()
    hit = document["components"]["schemas"]["Hit"]
    for name in ("similarity", "look", "same_breed", "near_copy"):
        assert name in hit["required"] and hit["properties"][name]["description"]
    validator = jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/Hit", "components": document["components"]}
    )
    data = api.files[3].path.read_bytes()
    with_guess = upload(api, data, k="6").get_json()["results"]
    api.encoder.predictions = []
    without_guess = upload(api, data, k="6").get_json()["results"]
    similar = api.client.get(f"/api/images/{api.id_of(api.files[3])}/similar?k=6").get_json()
    for result in with_guess + without_guess + similar["results"]:
        validator.validate(result)
    assert without_guess[0]["same_breed"] is None


def hit(image_id: str, similarity: float, breed: str, vector) -> Hit:
    photo = Photo(
        image_id, breed, -1, f"{image_id}.jpg", 8, 8, vector=np.asarray(vector, np.float32)
    )
    return Hit(photo, similarity)


def test_scored_takes_one_product_and_drops_the_vectors():
    model = ModelInfo("m", 4, "f" * 16, "imagenet", appearance_dims=2)
    query = np.array([1.0, 0.0, 1.0, 0.0]) / np.sqrt(2)
    hits = [
        hit("a", 0.5, "Beagle", np.array([0.0, 1.0, 1.0, 0.0]) / np.sqrt(2)),
        hit("b", 0.9, "unknown", [3.0, 4.0, 0.0, 0.0]),
    ]
    out = scored(hits, query, model, "beagle")
    assert [hit.look for hit in out] == pytest.approx([0.0, 0.6])
    assert [hit.same_breed for hit in out] == [True, None]
    assert [hit.similarity for hit in out] == [0.5, 0.9]
    assert all(h.photo.vector is None for h in out) and hits[0].photo.vector is not None
    whole = scored(hits, query, None, None)  # no recorded model: the whole vector is the look
    assert whole[0].look == pytest.approx(0.5)
    assert scored([], query, model, "beagle") == []
