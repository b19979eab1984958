"""The page's words for the API's errors (``frontend/js/messages.js``), run in Node: the API's
numbers reach the person, each message fits what was being done, advice fits the options."""

from __future__ import annotations

import pytest

from tests.support.js import call, needs_node

pytestmark = needs_node
PIXELS = "The photo is 8000 \u00d7 6000 pixels (48 megapixels); the limit is 40 megapixels."


def message(code: str, api_message: str = "", status: int = 400, *action: str) -> str:
    error = {"code": code, "status": status, "message": api_message}
    return call("messages.js", "messageFor", error, *action)


@pytest.mark.parametrize(
    ("code", "api_message", "numbers"),
    [
        ("too_many_pixels", PIXELS, ["48 megapixels", "40 megapixels"]),
        ("image_too_large", "The file is 25.0 MB; the limit is 20.0 MB.", ["25.0 MB", "20.0 MB"]),
        ("too_many_images", "at most 64 values of 'image' per request", ["64"]),
    ],
)
def test_the_apis_numbers_are_shown(code, api_message, numbers):
    shown = message(code, api_message, 413)
    assert all(number in shown for number in numbers), shown


def test_a_message_without_numbers_keeps_the_pages_words():
    assert message("empty_file", "the file is empty") == "That file is empty."


@pytest.mark.parametrize(
    ("code", "api_message", "status"),
    [
        ("too_many_pixels", PIXELS, 413),
        ("encoder_unavailable", "encoder is unavailable: cannot connect", 503),
        ("invalid_breed", "breed is missing", 400),
        ("something_new", "", 400),
    ],
)
def test_errors_while_adding_photos_do_not_speak_of_searching(code, api_message, status):
    shown = message(code, api_message, status, "add")
    assert "search" not in shown.lower(), shown


def test_a_search_error_names_the_search():
    assert message("encoder_unavailable", "", 503).startswith("Photo search is down")
    assert message("encoder_unavailable", "", 503, "add").startswith("Adding photos is down")


@pytest.mark.parametrize(
    ("options", "advice", "absent"),
    [
        ({"breed": None, "minSimilarity": 0}, [], ["any breed", "minimum similarity"]),
        ({"breed": "beagle", "minSimilarity": 0}, ["any breed"], ["minimum similarity"]),
        ({"breed": None, "minSimilarity": 0.6}, ["minimum similarity"], ["any breed"]),
        ({"breed": "beagle", "minSimilarity": 0.6}, ["any breed", "minimum similarity"], []),
    ],
)
def test_no_match_advice_names_only_options_that_are_set(options, advice, absent):
    hint = call("messages.js", "noMatchHint", options)
    assert hint and all(a in hint for a in advice) and not any(a in hint for a in absent), hint
