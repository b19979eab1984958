"""Retrieval metrics against hand-computed cases."""

import pytest

from scripts.metrics import average_precision_at_k, precision_at_k, summarise


def test_precision_at_k():
    assert precision_at_k(["a", "b", "a", "a"], "a", 1) == 1.0
    assert precision_at_k(["a", "b", "a", "a"], "a", 4) == 0.75
    assert precision_at_k(["b"], "a", 5) == 0.0  # fewer results than k count as misses


def test_average_precision_hand_computed():
    # relevant at ranks 1 and 3, 2 relevant in the gallery: (1/1 + 2/3) / 2
    assert average_precision_at_k(["a", "b", "a"], "a", 10, relevant=2) == pytest.approx(5 / 6)
    # fewer relevant items than k: normalise by the number that exist
    assert average_precision_at_k(["b", "a"], "a", 10, relevant=1) == pytest.approx(0.5)
    # more relevant than k: normalise by k
    assert average_precision_at_k(["a", "a"], "a", 2, relevant=50) == pytest.approx(1.0)
    assert average_precision_at_k(["b", "b"], "a", 2, relevant=0) == 0.0


def test_summarise_and_errors():
    result = summarise([["a", "b"], ["a", "b"]], ["a", "b"], ["a", "b"], k=2)
    assert result["p@1"] == 0.5 and result["map@2"] == pytest.approx((1 + 0.5) / 2)
    with pytest.raises(ValueError, match="empty"):
        summarise([["a"]], ["a"], [])
