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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from scripts.stack.local import free_port, milvus_answers

DIM = 2168  # the product's vector: ResNet-152's pooled look and 120 breed scores
ROWS = 1000


def start_server(tick: int, data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "scripts.stack.milvus_server", "--data-dir", str(data_dir)]
    command += ["--port", str(port), "--set", f"proxy.timeTickInterval={tick}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    answers, deadline = milvus_answers(uri), time.monotonic() + 180
    while not answers():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Milvus server (tick {tick} ms) did not start")
        time.sleep(1)
    return process, uri


def cpu_seconds(pid: int) -> float:
    """CPU time of the launcher and everything it started (the server is its child)."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def measure(tick: int, repeats: int, idle_seconds: float) -> dict:
    from pymilvus import MilvusClient

    with tempfile.TemporaryDirectory(prefix="time-tick-") as data_dir:
        process, uri = start_server(tick, Path(data_dir))
        try:
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
                    raise AssertionError(f"tick {tick}: the read missed the write just made")
            before = cpu_seconds(process.pid)
            time.sleep(idle_seconds)
            idle = (cpu_seconds(process.pid) - before) / idle_seconds
        finally:
            process.terminate()
            process.wait(60)
    ms = [1000 * seconds for seconds in sorted(after_write)]
    return {
        "tick_ms": tick,
        "search_at_rest_p50_ms": round(1000 * statistics.median(at_rest), 1),
        "search_after_write_p50_ms": round(statistics.median(ms), 1),
        "search_after_write_p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1),
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
