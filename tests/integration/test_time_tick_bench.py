"""The time-tick benchmark runs: on its own Milvus server, every read made right after a
write finds that write (it raises otherwise), and it reports what it measured."""

from __future__ import annotations

import pytest

from tests.support.stack import milvus_backend

pytestmark = [pytest.mark.integration, pytest.mark.milvus]


@pytest.mark.skipif(
    milvus_backend() != "server", reason="starts the Milvus server binary: the server run"
)
def test_the_time_tick_bench_reads_each_write_at_once_and_reports_it():
    from scripts.bench.time_tick import measure

    row = measure(tick=50, repeats=3, idle_seconds=0.5)
    assert row["tick_ms"] == 50
    for key in ("search_at_rest_p50_ms", "search_after_write_p50_ms", "search_after_write_p90_ms"):
        assert row[key] > 0, key
    assert row["idle_cpu_percent_of_one_core"] >= 0
