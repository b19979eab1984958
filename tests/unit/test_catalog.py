"""The browse catalogue: every worker sees a change made through another one at once."""

from search_api.catalog import Catalog
from services.consistency import MARKER_NAME, ChangeMarker
from services.photo import Photo


class RowsStore:
    def __init__(self):
        self.rows = [Photo("a", "beagle", 1, "x/a.jpg", 500, 375)]
        self.reads = 0
        self.levels: list[str] = []

    def exists(self):
        return True

    def all_rows(self, *, strong=True):
        self.reads += 1
        self.levels.append("Strong" if strong else "Bounded")
        return list(self.rows)


def test_a_change_in_one_worker_refreshes_the_others_despite_the_ttl(tmp_path):
    store = RowsStore()
    marker = ChangeMarker(tmp_path / "library" / MARKER_NAME)
    worker_a, worker_b = Catalog(store, 3600, marker), Catalog(store, 3600, marker)
    assert len(worker_b.snapshot().rows) == 1
    assert len(worker_b.snapshot().rows) == 1 and store.reads == 1  # cached within the TTL
    store.rows.append(Photo("b", "pug", 2, "y/b.jpg", 500, 375))
    worker_a.invalidate()
    assert {row.id for row in worker_b.snapshot().rows} == {"a", "b"}
    assert worker_b.snapshot().has_breed("pug")


def test_without_a_writable_marker_the_ttl_still_applies(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = RowsStore()
    catalog = Catalog(store, 3600, ChangeMarker(blocker / "library" / MARKER_NAME))
    catalog.snapshot()
    catalog.invalidate()  # cannot write the marker: no error, this worker refreshes anyway
    catalog.snapshot()
    assert store.reads == 2


def test_a_never_taken_snapshot_is_stale_on_a_machine_booted_a_second_ago(monkeypatch):
    """``time.monotonic()`` counts from boot: one second after boot, with a 15 s TTL, the
    first browse must still read Milvus, not serve an empty catalogue for 14 seconds."""
    monkeypatch.setattr("search_api.catalog.time.monotonic", lambda: 1.0)
    store = RowsStore()
    catalog = Catalog(store, 15.0)
    assert [row.id for row in catalog.snapshot().rows] == ["a"]
    assert store.reads == 1
    assert catalog.snapshot().has_breed("beagle") and store.reads == 1  # then cached


def test_the_collection_model_is_read_on_a_machine_booted_a_second_ago(monkeypatch):
    from search_api.search import SearchService
    from services.encoder_wire import ModelInfo

    class ModelStore:
        reads = 0

        def model(self):
            self.reads += 1
            return ModelInfo("efficientnet_lite0", 1280, "f" * 16, "imagenet")

    monkeypatch.setattr("search_api.catalog.time.monotonic", lambda: 1.0)
    store = ModelStore()
    search = SearchService(store, encoder=None, catalog=None)
    assert search.collection_model() is not None and store.reads == 1
    assert search.collection_model() is not None and store.reads == 1  # cached


def test_a_refresh_caused_by_a_change_reads_strongly_and_one_on_the_ttl_does_not(
    tmp_path, monkeypatch
):
    """Browsing right after an add, relabel or delete must show it (read-your-writes)."""
    store = RowsStore()
    marker = ChangeMarker(tmp_path / MARKER_NAME)
    catalog = Catalog(store, 10.0, marker)
    catalog.snapshot()  # the first read: never taken, so Strong
    marker.touch()  # another worker, or ingest, changed the index
    catalog.snapshot()
    now = [1000.0]
    monkeypatch.setattr("search_api.catalog.time.monotonic", lambda: now[0])
    catalog.invalidate()
    catalog.snapshot()
    now[0] += 11  # only the TTL passed
    catalog.snapshot()
    assert store.levels == ["Strong", "Strong", "Strong", "Bounded"]
