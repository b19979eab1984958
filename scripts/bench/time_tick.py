"""What Milvus's time tick costs: a search that must see a write just made, by tick length.

    python -m scripts.bench.time_tick [--ticks 200,50,20] [--repeats 25] [--idle-seconds 20]

For each ``proxy.timeTickInterval`` it starts the Milvus server binary (the local server,
with ``milvus/user.yaml`` and that one setting over it), inserts 1,000 unit vectors, and then
``--repeats`` times: a search at rest, an insert, and at once a search at a timestamp Milvus
gives just after the insert (as the product reads right after a write), which must find the
new row first. Last, the server's CPU while idle, since a shorter tick is more work for Milvus
all the time. Prints JSON; the README's Milvus section and docs/performance.md quote it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from scripts.stack.local import LocalStack

DIM = 2168  # the product's vector: ResNet-152's pooled look and 120 breed scores
ROWS = 1000
SETTLE_S = 3.0  # after the last write, before the idle CPU is read


def server_cpu_seconds(launcher_pid: int) -> float:
    """CPU time of the Milvus server: what the launcher started (its own polling left out)."""
    total = 0.0
    for process in psutil.Process(launcher_pid).children(recursive=True):
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def searches(uri: str, repeats: int) -> tuple[list[float], list[float]]:
    """(searches at rest, searches right after a write), in seconds."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri, timeout=30)
    client.create_collection("tick", dimension=DIM, metric_type="IP")
    rng = np.random.default_rng(0)
    rows = unit(rng.standard_normal((ROWS, DIM)).astype(np.float32))
    client.insert("tick", [{"id": i, "vector": row.tolist()} for i, row in enumerate(rows)])
    time.sleep(3)  # the rows visible, the collection at rest
    at_rest, after_write = [], []
    for n in range(repeats):
        time.sleep(random.uniform(0.3, 0.8))  # a write lands anywhere within a tick
        started = time.perf_counter()
        client.search("tick", [rows[n].tolist()], limit=10)
        at_rest.append(time.perf_counter() - started)
        new = unit(rng.standard_normal(DIM).astype(np.float32))
        client.insert("tick", [{"id": ROWS + n, "vector": new.tolist()}])
        written = int(client._get_connection().alloc_timestamp())
        started = time.perf_counter()
        found = client.search(
            "tick",
            [new.tolist()],
            limit=1,
            consistency_level="Customized",
            guarantee_timestamp=written,
        )
        after_write.append(time.perf_counter() - started)
        if found[0][0]["id"] != ROWS + n:
            raise AssertionError("the read missed the write just made")
    return at_rest, after_write


def measure(tick: int, repeats: int, idle_seconds: float) -> dict:
    """One tick length: its own server (``milvus/user.yaml`` with this tick over it)."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    with tempfile.TemporaryDirectory(prefix="time-tick-") as workdir:
        stack = LocalStack(
            Path(workdir),
            Path(workdir),
            milvus_backend="server",
            milvus_settings=[f"proxy.timeTickInterval={tick}"],
        )
        try:
            stack.start_milvus(timeout=180)
            milvus = stack.processes["milvus"]
            if f"proxy.timeTickInterval={tick}" not in milvus.log_tail(200):
                raise RuntimeError(f"the server did not say it runs on a {tick} ms tick")
            at_rest, after_write = searches(stack.milvus_uri, repeats)
            time.sleep(SETTLE_S)
            assert milvus.process is not None
            before = server_cpu_seconds(milvus.process.pid)
            time.sleep(idle_seconds)
            idle = (server_cpu_seconds(milvus.process.pid) - before) / idle_seconds
        finally:
            if "milvus" in stack.processes:
                stack.processes["milvus"].stop(60)
    ms = [1000 * seconds for seconds in after_write]
    return {
        "tick_ms": tick,
        "search_at_rest_p50_ms": round(1000 * statistics.median(at_rest), 1),
        "search_after_write_p50_ms": round(statistics.median(ms), 1),
        "search_after_write_p90_ms": round(float(np.percentile(ms, 90)), 1),
        "idle_cpu_percent_of_one_core": round(100 * idle, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", default="200,50,20", help="proxy.timeTickInterval values, ms")
    parser.add_argument("--repeats", type=int, default=25, help="writes searched at once")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    ticks = [int(tick) for tick in args.ticks.split(",")]
    report = [measure(tick, args.repeats, args.idle_seconds) for tick in ticks]
    print(json.dumps({"time_tick": report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
