"""The page's words for a result's numbers (``frontend/js/scores.js``), run in Node: a card says
breed agreement and the look, never the breed-aware similarity that every photo of the breed
shares; the query panel counts the results of the query's breed."""

from __future__ import annotations

import pytest

from tests.support.js import call, needs_node

pytestmark = needs_node


def result(look: float, same_breed: bool | None, similarity: float = 0.97) -> dict:
    return {"look": look, "same_breed": same_breed, "similarity": similarity}


@pytest.mark.parametrize(
    ("same_breed", "line"),
    [
        (True, "Same breed · looks 83.0% alike"),
        (False, "Other breed · looks 83.0% alike"),
        (None, "looks 83.0% alike"),
    ],
)
def test_a_card_says_breed_agreement_and_look(same_breed, line):
    assert call("scores.js", "scoreLine", result(0.83, same_breed)) == line


def test_the_query_panel_counts_the_results_of_the_guessed_breed():
    results = [result(0.9, True), result(0.61, False), result(0.7, True)]
    assert call("scores.js", "agreementShort", results, "Beagle") == "2 of 3 results are Beagle"
    head, rest = call("scores.js", "agreementText", results, "Beagle")
    assert head == "2 of 3 results are Beagle"
    assert "most likely shows" in rest and "Most alike in look: 90.0%." in rest
    _, own = call("scores.js", "agreementText", results, "Beagle", {"own": True})
    assert "this photo\u2019s breed" in own


def test_unknown_breeds_and_no_results_say_nothing_of_breeds():
    unknown = [result(0.5, None), result(0.4, None)]
    assert call("scores.js", "agreementShort", unknown, "Beagle") == ""
    head, rest = call("scores.js", "agreementText", unknown, "Beagle")
    assert head == "2 results" and "Beagle" not in rest and "50.0%" in rest
    assert call("scores.js", "agreementText", [], "Beagle") is None
    assert call("scores.js", "agreementShort", [result(0.5, False)], "") == ""
