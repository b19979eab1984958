"""Read-your-writes at the write's own timestamp, on a real Milvus (only Milvus is started).

On the server (ticking every second here) a read right after a write misses it unless it
waits; the store records each write's timestamp in the shared marker, and a read in another
process waits for exactly that write. Milvus Lite gives writes no timestamp; its reads are
Strong then, and Lite is always up to date.
"""

from __future__ import annotations

import numpy as np
import pytest

from services.consistency import MARKER_NAME, ChangeMarker, ReadConsistency
from services.encoder_wire import ModelInfo
from services.photo import Photo
from services.settings import MilvusSettings
from services.vectorstore import VectorStore
from tests.support.stack import make_stack, milvus_backend

pytestmark = [pytest.mark.integration, pytest.mark.milvus]
DIM = 16


@pytest.fixture(scope="module")
def milvus(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ryw")
    stack = make_stack(workdir, workdir)
    stack.start_milvus()
    yield stack.milvus_uri, workdir
    stack.stop()


def photo(seed: int) -> Photo:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    vector /= np.linalg.norm(vector)
    return Photo(f"{seed:08x}", "beagle", 1, f"x/{seed}.jpg", 1, 1, vector=vector)


def test_a_search_in_another_process_sees_a_write_at_its_timestamp(milvus):
    uri, workdir = milvus
    marker = workdir / "library" / MARKER_NAME
    settings = MilvusSettings(uri=uri, collection="ryw", index_type="FLAT")
    writer = VectorStore(settings, consistency=ReadConsistency(ChangeMarker(marker), 5.0))
    reader = VectorStore(settings, consistency=ReadConsistency(ChangeMarker(marker), 5.0))
    writer.drop()
    writer.ensure_collection(ModelInfo("test", DIM, "f", "random"))
    writer.upsert([photo(n) for n in range(50)])
    try:
        for seed in range(100, 105):
            new = photo(seed)
            writer.upsert([new])
            written = ChangeMarker(marker).write_ts()
            if milvus_backend() == "server":
                # Milvus's clock just after the write: a later reading of it is later still.
                assert 0 < written < writer.last_write_ts()
                assert reader.consistency.for_search().guarantee_ts == written
            assert reader.search(new.vector, 1)[0].id == new.id
    finally:
        writer.drop()
