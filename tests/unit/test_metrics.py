"""Retrieval metrics against hand-computed cases."""

import numpy as np
import pytest

from scripts.training.metrics import (
    average_precision_at_k,
    confused_pairs,
    hit_at_k,
    map_at_r,
    per_label,
    precision_at_k,
    rank_gallery,
    summarise,
)


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


def test_map_at_r_and_recall_hand_computed():
    # R = 3 relevant; relevant at ranks 1 and 3 within the first 3: (1/1 + 2/3) / 3
    assert map_at_r(["a", "b", "a", "a"], "a", relevant=3) == pytest.approx((1 + 2 / 3) / 3)
    with pytest.raises(ValueError, match="needs 3"):
        map_at_r(["a", "b"], "a", relevant=3)
    assert hit_at_k(["b", "b", "a"], "a", 2) == 0.0
    assert hit_at_k(["b", "b", "a"], "a", 3) == 1.0
    result = summarise([["b", "a"], ["b", "a"]], ["a", "b"], ["a", "b"], k=2, with_map_at_r=True)
    assert result["recall@1"] == 0.5 and result["map@r"] == 0.5


def test_ties_keep_gallery_order():
    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    ranking = rank_gallery(np.array([[1.0, 0.0]], dtype=np.float32), gallery, depth=4)
    assert ranking.tolist() == [[0, 2, 3, 1]]  # 0 and 2 tie: the earlier one first
    assert rank_gallery(gallery[:1], gallery, depth=10).shape == (1, 4)
    with pytest.raises(ValueError, match="empty"):
        rank_gallery(gallery, gallery[:0], depth=3)


def test_per_label_and_confused_pairs():
    rankings = [["a", "b"], ["b", "b"], ["a", "c"]]
    labels = ["a", "a", "c"]
    assert per_label(rankings, labels, k=2) == {
        "a": {"queries": 2, "p@1": 0.5, "p@2": 0.25},
        "c": {"queries": 1, "p@1": 0.0, "p@2": 0.5},
    }
    assert confused_pairs(rankings, labels, k=2) == [
        {"breeds": ["a", "b"], "count": 3},
        {"breeds": ["a", "c"], "count": 1},
    ]
