"""The URL keeps which dog of a photo search is shown (``frontend/js/state.js``), and each dog's
outline has a name a screen reader can say (``frontend/js/dogs.js``), run in Node."""

from __future__ import annotations

import pytest

from tests.support.js import call, needs_node

pytestmark = needs_node


@pytest.mark.parametrize(
    ("search", "dog"),
    [
        ("?view=photo&dog=2", 2),
        ("?view=photo", None),
        ("?view=photo&dog=0", None),
        ("?view=photo&dog=abc", None),
        ("?view=photo&dog=100", None),
    ],
)
def test_the_dog_is_read_from_the_url(search, dog):
    assert call("state.js", "readState", search)["dog"] == dog


def test_the_dog_is_written_only_with_the_photo_view():
    base = call("state.js", "readState", "")
    assert call("state.js", "stateUrl", {**base, "view": "photo", "dog": 3}) == "/?view=photo&dog=3"
    assert call("state.js", "stateUrl", {**base, "view": "photo"}) == "/?view=photo"
    assert call("state.js", "stateUrl", {**base, "breed": "Lhasa", "dog": 3}) == "/?breed=Lhasa"


def test_an_outline_says_where_the_dog_is_and_its_breed_guess():
    """Dogs are named by where they are in the photo, not by the API's order (most sure
    first), which nobody looking at the photo can see."""
    guess = [{"breed": "German shepherd", "probability": 0.81}]
    right = {"box": [0.5, 0, 1, 1], "predictions": guess}
    left = {"box": [0, 0, 0.5, 1]}
    assert (
        call("dogs.js", "outlineName", [right, left], 0, False)
        == "Search the dog on the right: German shepherd 81 %"
    )
    assert call("dogs.js", "outlineName", [right, left], 1, True) == "Showing the dog on the left"
    middle = {"box": [0.3, 0, 0.6, 1]}
    assert (
        call("dogs.js", "outlineName", [right, left, middle], 2, False)
        == "Search the second dog from the left"
    )
