"""Safe model change: re-index into a new collection behind the alias, labels carried over,
the old collection dropped, and the API refusing vectors of another model meanwhile."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import requests

from scripts.jobs import ingest
from scripts.stack.local import LocalStack
from services.dataset import content_id, iter_image_files
from tests.support.stack import store_of
from tests.support.synthetic import jpeg_bytes

pytestmark = [pytest.mark.integration, pytest.mark.milvus]


@pytest.fixture
def other_encoder(stack, tmp_path):
    """A second encoder whose model differs (random weights): what a model change looks like."""
    other = LocalStack(
        tmp_path,
        stack.dataset_root,
        encoder_env={"ENCODER_ARCH": "efficientnet_lite0", "ENCODER_WEIGHTS": "random"},
    )
    other.start_encoder()
    yield other.encoder_url
    other.stop()


def fingerprint(url: str) -> str:
    return requests.get(f"{url}/info", timeout=10).json()["model"]["fingerprint"]


def wait_for_stats(stack, **expected) -> dict:
    """The API re-reads the index's model every few seconds (MODEL_CACHE_S)."""
    deadline = time.monotonic() + 15
    while True:
        stats = requests.get(f"{stack.api_url}/api/stats", timeout=30).json()
        if all(stats[key] == value for key, value in expected.items()):
            return stats
        assert time.monotonic() < deadline, stats
        time.sleep(0.5)


def test_reindex_switches_models_in_one_step_and_keeps_labels(stack, other_encoder):
    assert ingest.main(stack.ingest_args("--no-progress")) == 0
    alias = store_of(stack)
    relabelled = content_id(next(iter_image_files(stack.dataset_root)).path.read_bytes())
    patched = requests.patch(
        f"{stack.api_url}/api/images/{relabelled}", json={"breed": "beagle"}, timeout=10
    )
    assert patched.status_code == 200
    before = {row.id for row in alias.all_rows()}
    library = stack.workdir / "library"

    args = [
        str(stack.dataset_root),
        "--encoder-url",
        other_encoder,
        "--milvus-uri",
        stack.milvus_uri,
    ]
    assert ingest.main([*args, "--reindex", "--library", str(library), "--no-progress"]) == 0
    first = alias.physical_collection()
    assert first is not None and first.startswith("dogs_v")
    assert {row.id for row in alias.all_rows()} == before
    assert {row.id: row.breed for row in alias.all_rows()}[relabelled] == "beagle"
    assert alias.model().fingerprint == fingerprint(other_encoder)

    # The API's encoder now runs another model than the index: it says so and stores nothing.
    wait_for_stats(stack, reindex_needed=True)
    added = requests.post(
        f"{stack.api_url}/api/images", files={"image": ("x.jpg", jpeg_bytes(4242))}, timeout=60
    )
    assert added.status_code == 409 and added.json()["error"]["code"] == "model_mismatch"
    assert "--reindex" in added.json()["error"]["message"]
    assert content_id(jpeg_bytes(4242)) not in {row.id for row in alias.all_rows()}
    similar = requests.get(f"{stack.api_url}/api/images/{relabelled}/similar", timeout=10)
    assert similar.status_code == 200  # stored vectors still search one another

    # And back to the API's encoder: a newer collection, the previous one dropped.
    assert (
        ingest.main([*stack.ingest_args("--no-progress"), "--reindex", "--library", str(library)])
        == 0
    )
    second = alias.physical_collection()
    assert second != first and second.startswith("dogs_v")
    assert not alias.client.has_collection(first)
    assert alias.model().fingerprint == fingerprint(stack.encoder_url)
    assert {row.id for row in alias.all_rows()} == before
    assert wait_for_stats(stack, reindex_needed=False)["count"] == len(before)
    restored = requests.patch(
        f"{stack.api_url}/api/images/{relabelled}", json={"breed": "Chihuahua"}, timeout=10
    )
    assert restored.status_code == 200


def test_a_reindex_with_a_missing_source_stops_before_switching_and_loses_nothing(
    stack, other_encoder, tmp_path, capsys
):
    """The data loss of issue 15: compose's tools did not mount the library volume, and a
    re-index dropped every photo added through the UI. Now it refuses and changes nothing."""
    assert ingest.main(stack.ingest_args("--no-progress")) == 0
    added = requests.post(
        f"{stack.api_url}/api/images", files={"image": ("x.jpg", jpeg_bytes(4343))}, timeout=60
    )
    assert added.status_code == 201
    added_id = added.json()["results"][0]["id"]
    alias = store_of(stack)
    before = {row.id for row in alias.all_rows()}
    collection = alias.physical_collection()
    collections = set(alias.client.list_collections())

    empty_library = tmp_path / "not-the-library"
    args = [str(stack.dataset_root), "--encoder-url", other_encoder, "--milvus-uri"]
    args += [stack.milvus_uri, "--reindex", "--library", str(empty_library), "--no-progress"]
    assert ingest.main(args) == 2
    refusal = capsys.readouterr().err
    assert "stopped before switching" in refusal and added_id in refusal
    assert alias.physical_collection() == collection
    assert set(alias.client.list_collections()) == collections  # the half-built one is dropped
    assert {row.id for row in alias.all_rows()} == before
    assert alias.model().fingerprint == fingerprint(stack.encoder_url)
    deleted = requests.delete(f"{stack.api_url}/api/images/{added_id}", timeout=30)
    assert deleted.status_code == 200


def test_a_reindex_under_search_traffic_fails_no_request(stack, other_encoder):
    """Searches never see two models or a missing collection while the alias moves: 4 clients
    ask "more like this" during a re-index to another model and back."""
    ids = [content_id(f.path.read_bytes()) for f in iter_image_files(stack.dataset_root)]
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def client(offset: int) -> None:
        session = requests.Session()
        n = offset
        while not stop.is_set():
            url = f"{stack.api_url}/api/images/{ids[n % len(ids)]}/similar"
            response = session.get(url, params={"k": 5}, timeout=30)
            if response.status_code != 200 or len(response.json()["results"]) != 5:
                failures.append(f"{response.status_code} {response.text[:200]}")
            answered[0] += 1
            n += 7

    clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in clients:
        thread.start()
    library = str(stack.workdir / "library")
    to_other = [str(stack.dataset_root), "--encoder-url", other_encoder, "--milvus-uri"]
    to_other += [stack.milvus_uri, "--reindex", "--library", library, "--no-progress"]
    try:
        assert ingest.main(to_other) == 0
        assert ingest.main([*stack.ingest_args("--no-progress"), "--reindex"]) == 0
    finally:
        stop.set()
        for thread in clients:
            thread.join(60)
    assert answered[0] > 20 and failures == []
    assert wait_for_stats(stack, reindex_needed=False)["count"] == len(set(ids))


def test_asking_for_an_alias_that_is_not_there_logs_no_error(stack, caplog):
    """A name that is no alias is an answer for physical_collection, not an error: make up
    printed pymilvus's traceback when a new model made it re-index."""
    store = store_of(stack, "no_such_alias_here")
    with caplog.at_level(logging.DEBUG):
        assert store.physical_collection() is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert logging.getLogger("pymilvus.decorators").level == logging.NOTSET  # restored
