"""Near-duplicate grouping: exact pairs above the threshold, joined transitively."""

import numpy as np

from search_api.duplicates import BLOCK, DuplicateFinder, group_pairs, similar_pairs
from services.encoder_wire import ModelInfo
from services.photo import Photo
from tests.support.fakes import FakeVectorStore


def photo(image_id: str, vector: np.ndarray) -> Photo:
    return Photo(image_id, "beagle", 11, "", 1, 1, vector=vector)


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


def test_appearance_is_the_renormalised_look_part():
    model = ModelInfo("m", 6, "f" * 16, "imagenet", appearance_dims=4)
    vectors = unit(np.array([[3.0, 0, 0, 4.0, 10.0, 0], [0, 1.0, 0, 0, 0, 10.0]]))
    look = model.appearance(vectors)
    assert look.shape == (2, 4)
    np.testing.assert_allclose(look[0], [0.6, 0, 0, 0.8], atol=1e-6)
    np.testing.assert_allclose(model.appearance(vectors[1]), [0, 1.0, 0, 0], atol=1e-6)
    whole = ModelInfo("m", 6, "f" * 16, "imagenet")  # an older collection: all of it is look
    np.testing.assert_array_equal(whole.appearance(vectors), vectors)
    assert ModelInfo.from_dict(model.to_dict()).appearance_dims == 4


def test_confident_photos_of_one_breed_are_not_copies_but_a_resized_copy_is():
    """The breed part of two confident photos of one breed is the same; only the look may
    decide that two photos are copies (the whole vectors would be >= 0.95 apart)."""
    rng = np.random.default_rng(1)
    breed = np.zeros(8, np.float32)
    breed[2] = 3.0
    looks = unit(np.abs(rng.standard_normal((3, 16))))
    looks[2] = unit(looks[0:1] + 0.01 * np.abs(rng.standard_normal((1, 16))))[0]
    vectors = unit(np.hstack([looks, np.tile(breed, (3, 1))]))
    assert float(vectors[0] @ vectors[1]) >= 0.95  # whole vectors: everything one group
    store = FakeVectorStore()
    store.ensure_collection(ModelInfo("m", 24, "f" * 16, "imagenet", appearance_dims=16))
    store.upsert([photo(f"p{i}", v) for i, v in enumerate(vectors)])
    found = DuplicateFinder(store).groups(0.95)
    assert [group["ids"] for group in found["groups"]] == [["p0", "p2"]]


def test_groups_keep_their_order_when_a_photo_is_stored_again():
    """▲ A deleted and restored photo is stored again, last; its group moved after the others
    and the photo to the end of its group."""
    rng = np.random.default_rng(2)
    looks = unit(rng.standard_normal((4, 16)))
    near = unit(looks + 0.01 * rng.standard_normal((4, 16)))
    rows = [photo(f"a{i}", v) for i, v in enumerate(looks[:2])]
    rows += [photo(f"b{i}", v) for i, v in enumerate(near[:2])]
    store = FakeVectorStore()
    store.ensure_collection(ModelInfo("m", 16, "f" * 16, "imagenet"))
    store.upsert(rows)
    before = [group["ids"] for group in DuplicateFinder(store).groups(0.95)["groups"]]
    assert before == [["a0", "b0"], ["a1", "b1"]]
    store.delete(["a0"])
    store.upsert(rows[:1])
    assert [group["ids"] for group in DuplicateFinder(store).groups(0.95)["groups"]] == before
