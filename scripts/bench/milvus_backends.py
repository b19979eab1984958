"""Milvus Lite against the Milvus server binary, as ``make up`` would start each: the numbers
behind the choice of ``make up``'s default (README, Milvus).

    python -m scripts.bench.milvus_backends [--sizes 1000,20000] [--dim 2048]

For each backend and size: seconds until it answers (fresh and on restart), resident memory
idle and with the vectors loaded, seconds to insert and index, and "more like this"-style
search p50/p95 through the product's own ``VectorStore`` (Bounded reads, HNSW). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from scripts.bench.bench_search import clustered_vectors, wait_for_idle
from scripts.bench.loadgen import percentiles
from scripts.bench.soak import tree_rss_bytes
from scripts.stack.local import LocalStack
from services.encoder_wire import ModelInfo
from services.photo import Photo
from services.settings import MilvusSettings
from services.vectorstore import VectorStore


def started(stack: LocalStack) -> float:
    begin = time.perf_counter()
    stack.start_milvus()
    return round(time.perf_counter() - begin, 1)


def rss_mb(stack: LocalStack) -> float:
    return round(tree_rss_bytes(stack.processes["milvus"].process.pid) / 2**20, 1)


def fill(store: VectorStore, vectors: np.ndarray, model: ModelInfo) -> float:
    begin = time.perf_counter()
    store.ensure_collection(model)
    for start in range(0, len(vectors), 1000):
        rows = [
            Photo(f"{i:024x}", "b", 0, f"p/{i}.jpg", 1, 1, "", model.fingerprint, vectors[i])
            for i in range(start, min(start + 1000, len(vectors)))
        ]
        store.upsert(rows)
    store.flush()
    store.wait_for_index()
    return round(time.perf_counter() - begin, 1)


def searches(store: VectorStore, vectors: np.ndarray, queries: int = 100) -> dict:
    rng = np.random.default_rng(0)
    times = []
    for index in rng.integers(0, len(vectors), queries):
        begin = time.perf_counter()
        store.search(vectors[index], 10)
        times.append(time.perf_counter() - begin)
    return percentiles(times)


def measure(backend: str, sizes: list[int], dim: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"milvus-{backend}-"))
    stack = LocalStack(workdir, workdir, milvus_backend=backend)
    result: dict = {"backend": backend, "start_s": started(stack)}
    try:
        time.sleep(2)
        result["idle_rss_mb"] = rss_mb(stack)
        model = ModelInfo("bench", dim, "b" * 16, "random")
        for size in sizes:
            store = VectorStore(MilvusSettings(uri=stack.milvus_uri, collection=f"b{size}"))
            vectors = clustered_vectors(size, dim, seed=size)
            row = {"insert_and_index_s": fill(store, vectors, model)}
            row["background_work_s"] = wait_for_idle(stack.processes["milvus"].process.pid)
            searches(store, vectors, 10)  # warm
            row.update(search=searches(store, vectors), rss_mb=rss_mb(stack))
            result[str(size)] = row
            print(f"{backend} {size}: {row}", file=sys.stderr)
        stack.processes["milvus"].stop()
        result["restart_s"] = started(stack)
        store = VectorStore(MilvusSettings(uri=stack.milvus_uri, collection=f"b{sizes[-1]}"))
        begin = time.perf_counter()
        store.count()  # loads the collection again if the restart released it
        result["first_answer_after_restart_s"] = round(time.perf_counter() - begin, 1)
    finally:
        stack.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--backends", default="lite,server")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "dim": args.dim,
        "backends": [measure(b, sizes, args.dim) for b in args.backends.split(",")],
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
