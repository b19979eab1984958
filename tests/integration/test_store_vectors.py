"""The store's vectors, read from Milvus's response without lists of floats, are the vectors
written: by search (two queries in one request), by get and by the whole-library scan, on a real
Milvus (only Milvus is started; Lite, or the server with ``--milvus=server``)."""

from __future__ import annotations

import numpy as np
import pytest

from services.encoder_wire import ModelInfo
from services.photo import Photo
from services.settings import MilvusSettings
from services.vectorstore import VectorStore
from tests.support.stack import make_stack

pytestmark = [pytest.mark.integration, pytest.mark.milvus]
DIM = 24


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vectors")
    stack = make_stack(workdir, workdir)
    stack.start_milvus()
    store = VectorStore(MilvusSettings(uri=stack.milvus_uri, collection="vectors"))
    store.drop()
    store.ensure_collection(ModelInfo("test", DIM, "f", "random"))
    vectors = np.random.default_rng(7).normal(size=(40, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    photos = [
        Photo(f"{n:08x}", f"breed{n % 3}", n % 3, f"x/{n}.jpg", 10 + n, 20, vector=vectors[n])
        for n in range(len(vectors))
    ]
    store.upsert(photos)
    store.flush()
    yield store, {photo.id: photo for photo in photos}
    store.drop()
    stack.stop()


def assert_stored(photo: Photo, stored: dict[str, Photo]) -> None:
    assert isinstance(photo.vector, np.ndarray) and photo.vector.dtype == np.float32
    # A read-only row of the response's one array: the fast path, not pymilvus's float lists
    # (pymilvus changed its insides if this fails: services/milvus_rows.py).
    assert not photo.vector.flags.writeable
    np.testing.assert_array_equal(photo.vector, stored[photo.id].vector)
    assert photo == stored[photo.id]  # every other field too


def test_search_of_two_queries_returns_each_hit_with_its_stored_vector(store):
    store, stored = store
    first, second = (stored[f"{n:08x}"] for n in (3, 11))
    hits = store.search_many([first.vector, second.vector], 5, with_vectors=True)
    assert [query[0].id for query in hits] == [first.id, second.id]
    for query in hits:
        assert len(query) == 5
        for hit in query:
            assert_stored(hit.photo, stored)
            assert hit.similarity == pytest.approx(float(hit.photo.vector @ query[0].photo.vector))


def test_get_returns_each_photo_with_its_stored_vector(store):
    store, stored = store
    wanted = [f"{n:08x}" for n in (0, 5, 39)]
    photos = store.get(wanted, with_vectors=True)
    assert sorted(photo.id for photo in photos) == wanted
    for photo in photos:
        assert_stored(photo, stored)
    assert all(photo.vector is None for photo in store.get(wanted))


def test_every_vector_of_the_library_is_its_photo_s(store):
    store, stored = store
    ids, vectors = store.all_vectors()
    assert sorted(ids) == sorted(stored) and vectors.shape == (len(stored), DIM)
    for photo_id, vector in zip(ids, vectors, strict=True):
        np.testing.assert_array_equal(vector, stored[photo_id].vector)
