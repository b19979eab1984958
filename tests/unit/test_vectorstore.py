"""Creating a collection survives Milvus Lite losing the new index to a concurrent client."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pymilvus import MilvusClient, MilvusException

from services.encoder_wire import ModelInfo
from services.errors import DependencyUnavailable
from services.settings import MilvusSettings
from services.vectorstore import MODEL_PROPERTY, VectorStore

MODEL = ModelInfo("efficientnet_lite0", 4, "abc", "imagenet", True, False)


class LosesIndexes:
    """A Milvus that forgets the first ``lost`` indexes it is asked to create, as Lite 3.2 can."""

    create_schema = staticmethod(MilvusClient.create_schema)
    prepare_index_params = staticmethod(MilvusClient.prepare_index_params)

    def __init__(self, lost: int, *, silently: bool = False):
        self.lost, self.silently = lost, silently
        self.calls: list[str] = []
        self.indexes: list[str] = []
        self.created = False

    def has_collection(self, _name: str) -> bool:
        return self.created

    def describe_collection(self, _name: str) -> dict:
        return {"properties": {MODEL_PROPERTY: json.dumps(MODEL.to_dict())}}

    def create_collection(self, name: str, **kwargs) -> None:
        assert "index_params" not in kwargs  # the index is created and checked on its own
        self.created = True
        self.calls.append("create_collection")

    def create_index(self, name: str, index_params) -> None:
        self.calls.append("create_index")
        if self.lost:
            self.lost -= 1
            if not self.silently:
                raise MilvusException(code=700, message=f"no index on collection {name!r}")
            return
        self.indexes = [index.field_name for index in index_params]

    def list_indexes(self, _name: str) -> list[str]:
        return list(self.indexes)

    def load_collection(self, _name: str) -> None:
        self.calls.append("load_collection")


def store_with(client: LosesIndexes) -> VectorStore:
    store = VectorStore(MilvusSettings(uri="http://127.0.0.1:1"))
    store._client = client  # the connection is the seam under test
    store.reset = lambda failed: None  # a "fresh connection" is the same fake
    return store


@pytest.mark.parametrize("silently", [False, True])
def test_a_lost_index_is_created_again_before_loading(silently):
    client = LosesIndexes(lost=1, silently=silently)
    store_with(client).ensure_collection(MODEL)
    assert client.calls == ["create_collection", "create_index", "create_index", "load_collection"]
    assert client.indexes == ["vector"]


def test_an_existing_collection_without_its_index_gets_it():
    client = LosesIndexes(lost=0)
    client.created = True  # a creation that stopped after the collection, before the index
    store_with(client).ensure_collection(MODEL)
    assert client.calls == ["create_index", "load_collection"]
    assert client.indexes == ["vector"]


def test_an_index_that_never_stays_is_a_clear_error_and_nothing_is_loaded():
    client = LosesIndexes(lost=100)
    with pytest.raises(DependencyUnavailable, match="no index"):
        store_with(client).ensure_collection(MODEL)
    # three tries; Milvus answered each, so the connection is sound and not tried afresh
    assert client.calls.count("create_index") == 3
    assert "load_collection" not in client.calls


class RowsByRange:
    """Answers ``id >= "a" and id < "b"`` queries with a limit, as Milvus does."""

    def __init__(self, ids):
        self.ids = list(ids)
        self.queries = 0

    def query(self, collection, filter, output_fields, limit, consistency_level):
        self.queries += 1
        low = high = None
        for part in filter.split(" and ") if filter else []:
            operator, value = part.split(" ", 2)[1:]
            low, high = (json.loads(value), high) if operator == ">=" else (low, json.loads(value))
        chosen = [i for i in self.ids if (low is None or i >= low) and (high is None or i < high)]
        return [{"id": i} for i in chosen[:limit]]


@pytest.mark.parametrize("count", [0, 7, 300])
def test_a_scan_returns_every_row_once_splitting_full_ranges(count):
    rng = np.random.default_rng(count)
    ids = [bytes(rng.integers(0, 256, 12, dtype=np.uint8)).hex() for _ in range(count)]
    ids += ["", "Z-not-hex", "zzz", "~"][: min(count, 4)]  # ids outside the hex ranges too
    store = VectorStore(MilvusSettings(uri="http://127.0.0.1:1"))
    store._client = client = RowsByRange(ids)
    rows = store.scan(["id"], "Strong", window=16)
    assert sorted(row["id"] for row in rows) == sorted(ids)
    assert client.queries <= 1 + 18 * (1 + count // 16)  # it split only where it had to
