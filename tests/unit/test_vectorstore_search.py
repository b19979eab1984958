"""A search of several query vectors is one Milvus request, split back per query, and timed
as a search (dashboards keep reading ``operation="search"``)."""

from __future__ import annotations

import numpy as np

from services.metrics import MILVUS_SECONDS
from services.settings import MilvusSettings
from services.vectorstore import VectorStore

ENTITY = {
    "breed": "b",
    "breed_id": 1,
    "path": "p.jpg",
    "width": 8,
    "height": 8,
    "split": "",
    "fingerprint": "f",
}


class TwoAnswers:
    """A pymilvus client whose search answers each query vector with its own hits."""

    def __init__(self):
        self.searches: list[dict] = []

    def search(self, collection, **kwargs):
        self.searches.append(kwargs)
        return [
            [{"id": f"q{n}-{rank}", "distance": 1 - rank / 10, "entity": ENTITY}
             for rank in range(kwargs["limit"])]
            for n in range(len(kwargs["data"]))
        ]  # fmt: skip


def searches_timed() -> float:
    """How many calls were timed under ``operation="search"``."""
    (metric,) = MILVUS_SECONDS.collect()
    return sum(
        sample.value
        for sample in metric.samples
        if sample.name.endswith("_count") and sample.labels == {"operation": "search"}
    )


def test_two_queries_go_in_one_request_and_come_back_apart():
    client = TwoAnswers()
    timed = searches_timed()
    store = VectorStore(MilvusSettings(uri="http://127.0.0.1:1"))
    store._client = client
    first, second = store.search_many([np.ones(4), np.zeros(4)], 3, exclude_id="abc")
    assert len(client.searches) == 1
    sent = client.searches[0]
    assert len(sent["data"]) == 2 and sent["data"][0].dtype == np.float32
    assert sent["filter"] == 'id != "abc"'
    assert [hit.id for hit in first] == ["q0-0", "q0-1", "q0-2"]
    assert [hit.id for hit in second] == ["q1-0", "q1-1", "q1-2"]
    assert searches_timed() == timed + 1
    assert [hit.id for hit in store.search(np.ones(4), 2)] == ["q0-0", "q0-1"]
    assert searches_timed() == timed + 2
