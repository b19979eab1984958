"""Real failures on a stack of its own: an encoder killed mid-ingest, Milvus restarted under a
running API, an encoder that hangs, and a thumbnail cache that cannot be written. The stack
starts indexed; the killed ingest fills a collection of its own, so any order works.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
import requests

from scripts.jobs import ingest
from scripts.stack.local import LocalStack
from services.dataset import content_id, iter_image_files
from tests.support.stack import make_stack, store_of, stored_ids
from tests.support.synthetic import make_dataset

pytestmark = [pytest.mark.integration, pytest.mark.milvus]

BREEDS = ("n02085620-Chihuahua", "n02088364-beagle", "n02099601-golden_retriever")


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    images = make_dataset(tmp_path_factory.mktemp("faults-data"), per_breed=40, breeds=BREEDS)
    stack = make_stack(
        tmp_path_factory.mktemp("faults"),
        images,
        encoder_env={"ENCODER_ARCH": "efficientnet_lite0", "ENCODER_THREADS": "2"},
        api_env={"SEARCH_API_CATALOG_TTL_S": "0.5", "ENCODER_TIMEOUT_S": "20"},
    )
    try:
        stack.start()
        assert ingest.main(stack.ingest_args("--no-progress")) == 0
        yield stack
    finally:
        stack.stop()


def images_run(stack) -> int:
    return requests.get(f"{stack.encoder_url}/info", timeout=5).json()["images_run"]


def test_encoder_killed_mid_ingest_then_rerun_indexes_each_image_once(fault_stack, capsys):
    encoder = fault_stack.processes["encoder"]
    codes: list[int] = []
    own = ("--collection", "faults_resumed", "--no-progress")
    args = fault_stack.ingest_args(*own, "--batch-size", "4", "--in-flight", "1")
    before = images_run(fault_stack)
    runner = threading.Thread(target=lambda: codes.append(ingest.main(args)))
    runner.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and images_run(fault_stack) < before + 12:
        time.sleep(0.05)  # kill it once this ingest has really started encoding
    os.killpg(encoder.process.pid, signal.SIGKILL)
    encoder.process.wait(10)
    runner.join(120)
    try:
        assert codes == [3]
        error = capsys.readouterr().err
        assert "ingest stopped" in error and "encoder" in error and "run the same command" in error
        partial = stored_ids(fault_stack, "faults_resumed")
        assert 0 < len(partial) < 120
    finally:
        fault_stack.start_encoder()  # the other tests need it, whatever happened here
    try:
        assert ingest.main(fault_stack.ingest_args(*own)) == 0
        assert f"{len(partial)} already indexed" in capsys.readouterr().out
        ids = stored_ids(fault_stack, "faults_resumed")
        files = iter_image_files(fault_stack.dataset_root)
        expected = {content_id(f.path.read_bytes()) for f in files}
        assert len(ids) == len(set(ids)) == 120 and set(ids) == expected
    finally:
        store_of(fault_stack, "faults_resumed").drop()


def test_milvus_restart_gives_503_then_recovers_without_restarting_the_api(fault_stack):
    api = fault_stack.api_url
    some_id = requests.get(f"{api}/api/images", timeout=10).json()["images"][0]["id"]
    photo = next(iter_image_files(fault_stack.dataset_root)).path.read_bytes()
    assert requests.get(f"{api}/api/images/{some_id}/similar", timeout=10).status_code == 200

    fault_stack.processes["milvus"].stop()
    similar = requests.get(f"{api}/api/images/{some_id}/similar", timeout=30)
    assert similar.status_code == 503 and similar.json()["error"]["code"] == "milvus_unavailable"
    upload = requests.post(f"{api}/api/search", files={"image": ("q.jpg", photo)}, timeout=30)
    assert upload.status_code == 503 and upload.json()["error"]["code"] == "milvus_unavailable"
    ready = requests.get(f"{api}/readyz", timeout=30)
    assert ready.status_code == 503 and "milvus" in ready.text
    assert requests.get(f"{api}/healthz", timeout=10).status_code == 200  # alive, not ready

    fault_stack.start_milvus()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        similar = requests.get(f"{api}/api/images/{some_id}/similar", timeout=30)
        if similar.status_code == 200:
            break
        time.sleep(0.5)
    assert similar.status_code == 200 and similar.json()["results"]
    upload = requests.post(f"{api}/api/search", files={"image": ("q.jpg", photo)}, timeout=30)
    assert upload.status_code == 200, upload.text
    assert upload.json()["results"][0]["id"] == content_id(photo)
    assert len(stored_ids(fault_stack)) == 120  # nothing lost across the restart


@pytest.fixture
def hanging_encoder():
    """A TCP server that accepts connections and never answers: a stuck encoder."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for connection in held:
        connection.close()
    server.close()


def test_hanging_encoder_and_unwritable_thumbnail_cache(fault_stack, hanging_encoder, tmp_path):
    """A second API on the same Milvus: its encoder hangs and its cache folder is impossible."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    second = LocalStack(
        tmp_path,
        fault_stack.dataset_root,
        milvus_port=fault_stack.milvus_port,
        api_env={
            "ENCODER_URL": hanging_encoder,
            "ENCODER_TIMEOUT_S": "1.5",
            "SEARCH_API_THUMB_CACHE_DIR": str(blocker / "thumbs"),
        },
    )
    try:
        second.start_api()
        api = second.api_url
        photo = next(iter_image_files(fault_stack.dataset_root)).path.read_bytes()
        started = time.monotonic()
        upload = requests.post(f"{api}/api/search", files={"image": ("q.jpg", photo)}, timeout=30)
        assert time.monotonic() - started < 10
        assert upload.status_code == 504 and upload.json()["error"]["code"] == "encoder_timeout"

        images = requests.get(f"{api}/api/images", timeout=10).json()["images"]
        similar = requests.get(f"{api}/api/images/{images[0]['id']}/similar", timeout=10)
        assert similar.status_code == 200  # stored vectors need no encoder
        thumb = requests.get(f"{api}/thumbs/{images[0]['id']}", timeout=10)
        assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
        assert not (blocker / "thumbs").exists()
        assert "thumbnail cache not written" in second.processes["search-api"].log_tail(200)
    finally:
        second.stop()
