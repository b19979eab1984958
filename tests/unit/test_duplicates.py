"""Near-duplicate grouping: exact pairs above the threshold, joined transitively."""

import numpy as np

from search_api.duplicates import BLOCK, group_pairs, similar_pairs


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_pairs_are_exact_and_found_across_blocks():
    rng = np.random.default_rng(0)
    vectors = unit(rng.standard_normal((BLOCK + 300, 64)))
    far = BLOCK + 250
    vectors[far] = unit(vectors[3:4] + 0.01 * rng.standard_normal((1, 64)))[0]
    pairs = similar_pairs(vectors, 0.95)
    assert [(i, j) for i, j, _ in pairs] == [(3, far)]
    assert abs(pairs[0][2] - float(vectors[3] @ vectors[far])) < 1e-5
    brute = vectors @ vectors.T
    assert ((np.triu(brute, 1) >= 0.95).sum()) == 1


def test_groups_are_transitive_and_largest_first():
    groups = group_pairs(10, [(0, 1, 0.97), (1, 2, 0.96), (5, 7, 0.99)])
    assert groups == [[0, 1, 2], [5, 7]]
    assert group_pairs(4, []) == []
