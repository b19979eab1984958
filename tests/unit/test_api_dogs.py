"""Each dog of a query photo: its crop and breed guesses when there are several, and a search
of one dog's region that does not localise again (``search_api/dogs.py``), over fakes."""

from __future__ import annotations

import io

import numpy as np
import pytest

from search_api.dogs import crop_box
from services.encoder_wire import FoundDog, ModelInfo, Prediction
from tests.support.api import api_under_test
from tests.support.fakes import DIM, FakeEncoder

TWO = [FoundDog((0.1, 0.2, 0.5, 0.9), 0.97), FoundDog((0.5, 0.1, 0.9, 0.8), 0.8)]


@pytest.fixture
def api(tmp_path):
    return api_under_test(tmp_path)


def search(api, **form):
    data = api.files[0].path.read_bytes()
    api.encoder.asked_dogs.clear()  # the fixture's own encodes are not the search's
    response = api.client.post("/api/search", data={"image": (io.BytesIO(data), "q.jpg"), **form})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_several_dogs_each_get_a_crop_and_breed_guesses_from_one_more_batch(api):
    api.encoder.dogs = list(TWO)
    api.encoder.predictions = [Prediction(f"breed {i}", i, 0.5 - i / 10) for i in range(5)]
    dogs = search(api)["query"]["dogs"]
    assert [dog["crop"] for dog in dogs] == [[0.06, 0.13, 0.54, 0.97], [0.46, 0.03, 0.94, 0.87]]
    assert all(dog["crop"] == list(crop_box(tuple(dog["box"]))) for dog in dogs)
    assert [len(dog["predictions"]) for dog in dogs] == [3, 3]  # the first three guesses
    assert dogs[0]["predictions"][0] == {"breed": "breed 0", "breed_id": 0, "probability": 0.5}
    # The photo with its dogs, then the two crops in one batch that does not localise.
    assert api.encoder.asked_dogs == [True, False]


def test_one_dog_is_its_whole_photo_and_costs_no_second_encode(api):
    api.encoder.dogs = TWO[:1]
    (dog,) = search(api)["query"]["dogs"]
    assert dog == {"box": [0.1, 0.2, 0.5, 0.9], "score": 0.97}
    assert api.encoder.asked_dogs == [True]


def test_a_region_searched_is_not_localised_again(api):
    """The page searches one dog by its crop: that region is one dog already."""
    api.encoder.dogs = list(TWO)
    body = search(api, box="0.06,0.13,0.54,0.97")
    assert api.encoder.asked_dogs == [False]
    assert "dogs" not in body["query"]


@pytest.mark.parametrize("where", ["form", "query"])
def test_dogs_false_searches_the_whole_photo_without_localising(api, where):
    """An API client that wants only the results skips the second pass over the photo."""
    api.encoder.dogs = list(TWO)
    data = api.files[0].path.read_bytes()
    api.encoder.asked_dogs.clear()
    form = {"image": (io.BytesIO(data), "q.jpg")}
    if where == "form":
        response = api.client.post("/api/search", data={**form, "dogs": "false"})
    else:
        response = api.client.post("/api/search?dogs=false", data=form)
    assert response.status_code == 200, response.get_json()
    assert api.encoder.asked_dogs == [False]
    assert "dogs" not in response.get_json()["query"]


def test_a_dog_too_small_to_crop_keeps_its_box_without_guesses(api):
    tiny = FoundDog((0.5, 0.5, 0.5001, 0.5001), 0.7)  # under 8 pixels a side
    api.encoder.dogs = [TWO[0], tiny]
    dogs = search(api)["query"]["dogs"]
    assert "predictions" in dogs[0] and "predictions" not in dogs[1] and "crop" not in dogs[1]


@pytest.mark.parametrize(
    ("box", "crop"),
    [
        ((0.2, 0.2, 0.6, 0.8), (0.16, 0.14, 0.64, 0.86)),
        ((0.0, 0.05, 1.0, 1.0), (0.0, 0.0, 1.0, 1.0)),  # kept inside the photo
    ],
)
def test_the_crop_is_the_box_widened_by_a_tenth_within_the_photo(box, crop):
    assert crop_box(box) == pytest.approx(crop)


def ranked(body) -> list[tuple[str, float]]:
    return [(hit["id"], hit["similarity"]) for hit in body["results"]]


def test_dogs_of_two_breeds_answer_for_the_first_dogs_crop_one_dog_for_the_whole_photo(api):
    api.encoder.dogs = None
    whole = ranked(search(api))
    api.encoder.dogs = TWO[:1]
    assert ranked(search(api)) == whole
    api.encoder.dogs = list(TWO)
    api.encoder.predictions_by_name = {
        "dog-0.png": [Prediction("German shepherd", 6, 0.9)],
        "dog-1.png": [Prediction("Maltese dog", 1, 0.8)],
    }
    several = search(api)
    assert several["query"]["searched_dog"] == 1
    assert several["query"]["predictions"][0]["breed"] == "German shepherd"
    crop = ",".join(str(v) for v in several["query"]["dogs"][0]["crop"])
    assert ranked(several) == ranked(search(api, box=crop)) != whole


def test_dogs_that_look_one_breed_answer_for_the_whole_photo(api):
    """A litter, or a stray second box on one dog: the whole photo's results, which find a
    stored copy of the photo first; the dogs are still listed to pick from."""
    api.encoder.dogs = None
    whole = ranked(search(api))
    api.encoder.dogs = list(TWO)  # the fake guesses one breed for every crop
    several = search(api)
    assert "searched_dog" not in several["query"]
    assert len(several["query"]["dogs"]) == 2
    assert ranked(several) == whole


def test_a_stored_copy_of_the_photo_keeps_the_whole_photos_results(tmp_path):
    """Dogs of two breeds would answer for the first dog's crop, but the whole photo is
    already in the library: its copy comes first, as for any photo (a stray box on a stored
    photo must not hide the photo itself)."""
    model = ModelInfo("fake-look", DIM + 2, "b" * 16, "imagenet", appearance_dims=DIM)
    encoder = FakeEncoder(model)
    encoder.breed_part = np.array([0.0, 3.0])
    api = api_under_test(tmp_path, encoder=encoder)
    encoder.dogs = list(TWO)
    encoder.predictions_by_name = {
        "dog-0.png": [Prediction("German shepherd", 6, 0.9)],
        "dog-1.png": [Prediction("Maltese dog", 1, 0.8)],
    }
    body = search(api)
    assert "searched_dog" not in body["query"]
    assert body["results"][0]["id"] == api.id_of(api.files[0])
    assert body["results"][0]["near_copy"] is True
