"""Each consistency choice of services/consistency.py, on the real VectorStore and
DeletedPhotos over a client that records the level of every call. Weakening any one fails here;
the integration tests on the Milvus server show the same rules on a real server."""

from __future__ import annotations

import time

import numpy as np
import pytest

from services.consistency import MARKER_NAME, ChangeMarker, ReadConsistency
from services.deleted import DeletedPhotos
from services.photo import Photo
from services.settings import MilvusSettings
from services.vectorstore import VectorStore

SETTINGS = MilvusSettings(uri="http://127.0.0.1:1")


def photo(image_id: str) -> Photo:
    return Photo(image_id, "beagle", 1, f"x/{image_id}.jpg", 8, 8, vector=np.ones(2, np.float32))


class Recording:
    """A pymilvus client that answers emptily and records (call, consistency level)."""

    def __init__(self):
        self.calls: list[tuple[str, str | None]] = []

    def _record(self, name: str, kwargs: dict) -> None:
        self.calls.append((name, kwargs.get("consistency_level")))

    def get(self, collection, ids, output_fields, **kwargs):
        self._record("get", kwargs)
        return []

    def search(self, collection, **kwargs):
        self._record("search", kwargs)
        return [[]]

    def query(self, collection, **kwargs):
        self._record("query", kwargs)
        return [{"count(*)": 0}] if kwargs.get("output_fields") == ["count(*)"] else []

    def query_iterator(self, collection, **kwargs):
        self._record("query_iterator", kwargs)
        return type("Done", (), {"next": lambda self: [], "close": lambda self: None})()

    def upsert(self, collection, rows):
        self._record("upsert", {})

    def delete(self, collection, ids):
        self._record("delete", {})

    def has_collection(self, name):
        return True

    def last(self) -> str | None:
        return self.calls[-1][1]


def store_with(client: Recording, consistency: ReadConsistency | None = None) -> VectorStore:
    store = VectorStore(SETTINGS, consistency=consistency)
    store._client = client
    return store


@pytest.fixture
def clock(monkeypatch):
    """Both clocks the window is measured with, moved by hand."""
    now = {"t": 5000.0}
    monkeypatch.setattr("services.consistency.time.monotonic", lambda: now["t"])
    monkeypatch.setattr("services.consistency.time.time", lambda: now["t"])
    return now


def test_bulk_reads_are_bounded_and_reads_that_decide_a_write_are_strong(clock):
    client = Recording()
    store = store_with(client)
    vector = np.zeros(4, np.float32)
    expected = [
        (lambda: store.search(vector, 3), "Bounded"),
        (lambda: store.get(["a"]), "Bounded"),
        (lambda: store.count(), "Bounded"),
        (lambda: store.all_vectors(), "Bounded"),
        (lambda: store.all_rows(strong=False), "Bounded"),
        (lambda: store.existing_ids(["a"]), "Strong"),
        (lambda: store.get(["a"], to_write=True), "Strong"),
        (lambda: store.all_rows(), "Strong"),
    ]
    for call, level in expected:
        call()
        assert client.last() == level, client.calls[-1]


def test_after_a_write_searches_are_strong_for_the_window_then_bounded_again(clock):
    client = Recording()
    store = store_with(client, ReadConsistency(window_s=5.0))
    vector = np.zeros(4, np.float32)
    store.upsert([photo("a")])
    store.search(vector, 3)
    store.get(["a"])
    store.count()
    store.all_vectors()
    assert [level for _, level in client.calls[-4:]] == ["Strong"] * 4
    clock["t"] += 4.9
    store.search(vector, 3)
    assert client.last() == "Strong"
    clock["t"] += 0.2
    store.search(vector, 3)
    assert client.last() == "Bounded"
    store.delete(["a"])  # a deletion is a change too: it must not come back in a search
    store.search(vector, 3)
    assert client.last() == "Strong"


def test_a_write_by_another_process_makes_this_ones_searches_strong(tmp_path, clock):
    """Another gunicorn worker, or ingest: they share only the marker file."""
    marker_path = tmp_path / MARKER_NAME
    other = store_with(Recording(), ReadConsistency(ChangeMarker(marker_path), 5.0))
    client = Recording()
    this = store_with(client, ReadConsistency(ChangeMarker(marker_path), 5.0))
    this.search(np.zeros(4, np.float32), 3)
    assert client.last() == "Bounded"
    other.upsert([photo("a")])
    clock["t"] = marker_path.stat().st_mtime  # read just after the other's write
    this.search(np.zeros(4, np.float32), 3)
    assert client.last() == "Strong"


def test_own_writes_are_read_strongly_even_where_the_marker_cannot_be_written(tmp_path, clock):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    client = Recording()
    store = store_with(client, ReadConsistency(ChangeMarker(blocker / MARKER_NAME), 5.0))
    store.upsert([photo("a")])
    store.search(np.zeros(4, np.float32), 3)
    assert client.last() == "Strong"


def test_the_deleted_photo_records_are_always_read_strongly():
    client = Recording()
    deleted = DeletedPhotos(SETTINGS)
    deleted._client = client
    deleted.among(["a"])
    deleted.get("a")
    deleted.all()
    assert [level for _, level in client.calls] == ["Strong", "Strong", "Strong"]


class Stamping(Recording):
    """A client whose writes get Milvus timestamps, and whose reads record the guarantee."""

    def __init__(self):
        super().__init__()
        self.guarantees: list[int | None] = []
        self.next_ts = 1000

    def _record(self, name: str, kwargs: dict) -> None:
        super()._record(name, kwargs)
        self.guarantees.append(kwargs.get("guarantee_timestamp"))

    def upsert(self, collection, rows):
        self.next_ts += 1
        self.written = self.next_ts


def stamped_store(client: Stamping, consistency: ReadConsistency) -> VectorStore:
    store = store_with(client, consistency)
    store.last_write_ts = lambda: client.written  # Milvus's clock just after the write
    return store


def test_after_a_write_reads_wait_for_that_write_only_then_bounded_again(clock):
    client = Stamping()
    store = stamped_store(client, ReadConsistency(window_s=5.0))
    vector = np.zeros(4, np.float32)
    store.upsert([photo("a")])
    store.search(vector, 3)
    store.get(["a"])
    store.count()
    store.all_vectors()
    assert [level for _, level in client.calls[-4:]] == ["Customized"] * 4
    assert client.guarantees[-4:] == [1001] * 4
    store.get(["a"], to_write=True)  # a read that decides a write stays Strong
    assert client.last() == "Strong"
    clock["t"] += 5.1
    store.search(vector, 3)
    assert client.last() == "Bounded" and client.guarantees[-1] is None


def test_a_write_by_another_process_is_waited_for_at_its_own_timestamp(tmp_path, clock):
    marker_path = tmp_path / MARKER_NAME
    writer = Stamping()
    other = stamped_store(writer, ReadConsistency(ChangeMarker(marker_path), 5.0))
    client = Stamping()
    this = stamped_store(client, ReadConsistency(ChangeMarker(marker_path), 5.0))
    other.upsert([photo("a")])
    clock["t"] = marker_path.stat().st_mtime
    this.search(np.zeros(4, np.float32), 3)
    assert (client.last(), client.guarantees[-1]) == ("Customized", 1001)
    writer.next_ts = 5000
    other.upsert([photo("b")])
    this.search(np.zeros(4, np.float32), 3)
    assert client.guarantees[-1] == 5001  # the newest write of any process


def test_a_change_without_a_timestamp_is_read_strongly(tmp_path, clock):
    """An alias switch (a re-index) has no mutation timestamp; nor has Milvus Lite's writes."""
    marker_path = tmp_path / MARKER_NAME
    client = Stamping()
    store = stamped_store(client, ReadConsistency(ChangeMarker(marker_path), 5.0))
    store.upsert([photo("a")])
    store.consistency.wrote(0)
    store.search(np.zeros(4, np.float32), 3)
    assert client.last() == "Strong"
    assert ChangeMarker(marker_path).write_ts() == 0


def test_the_catalogue_moving_the_marker_keeps_the_write_timestamp(tmp_path):
    marker = ChangeMarker(tmp_path / MARKER_NAME)
    marker.touch(1234)
    before = marker.mtime_ns()
    time.sleep(0.01)
    marker.touch()  # the catalogue's invalidate(), after a write the store announced
    assert marker.write_ts() == 1234
    assert marker.mtime_ns() != before


def test_a_delete_is_waited_for_at_a_timestamp_taken_after_it(clock):
    """Milvus 2.3.5 gives a delete no timestamp of its own, and the add's would let the deleted
    row show: the store asks Milvus for one after the delete, and reads wait for that."""
    client = Stamping()
    store = stamped_store(client, ReadConsistency(window_s=5.0))
    store.upsert([photo("a")])
    client.written = 1500  # Milvus's clock when the store asks, just after the delete
    store.delete(["a"])
    store.search(np.zeros(4, np.float32), 3)
    assert (client.last(), client.guarantees[-1]) == ("Customized", 1500)


def test_writers_finishing_out_of_order_leave_the_newest_timestamp(tmp_path, clock):
    """Two processes: the later-stamped write announced first. A reader waiting for the older
    timestamp could miss the newer write, so the marker keeps the larger; an unknown one (0)
    still makes the reads Strong."""
    marker_path = tmp_path / MARKER_NAME
    first, second = Stamping(), Stamping()
    first_store = stamped_store(first, ReadConsistency(ChangeMarker(marker_path), 5.0))
    second_store = stamped_store(second, ReadConsistency(ChangeMarker(marker_path), 5.0))
    first.next_ts, second.next_ts = 2000, 1000
    first_store.upsert([photo("a")])
    second_store.upsert([photo("b")])  # stamped 1001, announced after 2001
    client = Stamping()
    reader = stamped_store(client, ReadConsistency(ChangeMarker(marker_path), 5.0))
    clock["t"] = marker_path.stat().st_mtime
    reader.search(np.zeros(4, np.float32), 3)
    assert (client.last(), client.guarantees[-1]) == ("Customized", 2001)
    ChangeMarker(marker_path).touch(0)
    reader.search(np.zeros(4, np.float32), 3)
    assert client.last() == "Strong"
