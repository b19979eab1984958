"""The ingester's pipeline over fakes: upserts overlap encoding, failures stop it, none hang."""

from __future__ import annotations

import threading

import pytest

from scripts.jobs.ingester import IngestAborted, Ingester
from services.dataset import iter_image_files
from services.errors import DependencyUnavailable
from tests.support.fakes import FakeEncoder, FakeVectorStore
from tests.support.synthetic import make_dataset


class WatchedStore(FakeVectorStore):
    """An upsert that waits (up to 10 s) for new encoder requests while it runs."""

    def __init__(self):
        super().__init__()
        self.upserting = threading.Event()
        self.encoded_meanwhile = threading.Event()
        self.fail_upserts = False
        self.fail_reads = False

    def existing_ids(self, ids) -> set[str]:
        if self.fail_reads:
            raise DependencyUnavailable("milvus", "the fake Milvus is down")
        return super().existing_ids(ids)

    def upsert(self, rows) -> None:
        if self.fail_upserts:
            raise DependencyUnavailable("milvus", "the fake Milvus is down")
        self.upserting.set()
        self.encoded_meanwhile.wait(10)
        self.upserting.clear()
        super().upsert(rows)


class WatchingEncoder(FakeEncoder):
    """Sets the store's event once more requests come during an upsert than were in flight
    when it began: new requests were sent meanwhile, not only those already under way."""

    def __init__(self, store: WatchedStore, in_flight: int):
        super().__init__()
        self.store, self.in_flight, self.during_upsert = store, in_flight, 0
        self.lock = threading.Lock()

    def encode(self, images, *, timeout=None):
        with self.lock:
            if self.store.upserting.is_set():
                self.during_upsert += 1
                if self.during_upsert > self.in_flight:
                    self.store.encoded_meanwhile.set()
        return super().encode(images, timeout=timeout)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("images"), per_breed=8)
    return list(iter_image_files(root))


def ingester(store: WatchedStore, **options) -> Ingester:
    encoder = WatchingEncoder(store, options.get("in_flight", 3))
    return Ingester(encoder, store, encoder.model, progress=False, **options)


def test_upserts_run_while_the_encoder_works(files):
    store = WatchedStore()
    report = ingester(store, batch_size=2, in_flight=2, insert_batch=4).run(files)
    assert store.encoded_meanwhile.is_set()  # an encoder call came during an upsert
    assert report.added == len(store.photos) == len(files) and not report.failed


def test_a_failed_upsert_stops_the_run_and_a_rerun_completes_it(files):
    store = WatchedStore()
    store.fail_upserts = True
    with pytest.raises((IngestAborted, DependencyUnavailable)):
        ingester(store, batch_size=2, in_flight=2, insert_batch=4).run(files)
    store.fail_upserts = False
    store.encoded_meanwhile.set()  # no need to wait for overlap now
    report = ingester(store, batch_size=2, in_flight=2, insert_batch=4).run(files)
    assert len(store.photos) == len(files) and report.added == len(files)


def test_milvus_down_while_reading_ahead_stops_the_run(files):
    store = WatchedStore()
    store.fail_reads = True  # existing_ids, which the reader thread calls, fails
    with pytest.raises(IngestAborted, match="milvus"):
        ingester(store, batch_size=2, in_flight=2).run(files)
