"""The search API's own in-process cost of one search answer from Milvus, before and after
issue 27's change, measured in one process (no Milvus, no HTTP): turning the vectors of a
search answer into numpy (pymilvus's float lists against :mod:`services.milvus_rows`).

    python -m scripts.bench.answer_cost --k 10 --dim 2168

Prints one JSON object: the median microseconds of each way, over ``--repeat`` calls, and their
ratio, and what building pymilvus's ``SearchResult`` alone costs (in both ways: it decodes every
scalar field cell by cell). The search answer is a real pymilvus ``SearchResult`` built from the
protobuf message Milvus sends for two queries (the full vector and the look) of ``k`` hits with
every field.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from pymilvus import DataType
from pymilvus.client.search_result import SearchResult
from pymilvus.grpc_gen import schema_pb2

from services.milvus_rows import search_rows
from services.photo import FIELDS


def search_answer(k: int, dim: int) -> schema_pb2.SearchResultData:
    """What Milvus sends for two queries of ``k`` hits, every field and the vector."""
    total = 2 * k
    ids = [f"{n:064x}" for n in range(total)]
    data = schema_pb2.SearchResultData(num_queries=2, top_k=k, topks=[k, k])
    data.scores.extend(np.linspace(1, 0.5, total).tolist())
    data.ids.str_id.data.extend(ids)
    for number, spec in enumerate(FIELDS, start=101):
        kind = DataType.VARCHAR if spec.kind == "str" else DataType.INT32
        field = schema_pb2.FieldData(type=kind, field_name=spec.name, field_id=number)
        if spec.kind == "str":
            field.scalars.string_data.data.extend([f"{spec.name}-{n}" for n in range(total)])
        else:
            field.scalars.int_data.data.extend(range(total))
        data.fields_data.append(field)
    vector = schema_pb2.FieldData(type=DataType.FLOAT_VECTOR, field_name="vector", field_id=200)
    vector.vectors.dim = dim
    rows = np.random.default_rng(0).normal(size=(total, dim)).astype(np.float32)
    vector.vectors.float_vector.data.extend(rows.ravel().tolist())
    data.fields_data.append(vector)
    data.output_fields.extend([*(spec.name for spec in FIELDS), "vector"])
    return data


def plain_vectors(data: schema_pb2.SearchResultData) -> list[np.ndarray]:
    """As the store did before: pymilvus's float lists, one numpy row per hit, then stacked."""
    return [
        np.stack([np.asarray(hit["entity"]["vector"], np.float32) for hit in hits])
        for hits in SearchResult(data)
    ]


def fast_vectors(data: schema_pb2.SearchResultData) -> list[np.ndarray]:
    results = search_rows(SearchResult(data))
    return [np.stack([row["vector"] for row, _ in hits]) for hits in results]


def median_us(call: Callable[[], object], repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1e6, 1)


def compare(before: Callable[[], object], after: Callable[[], object], repeat: int) -> dict:
    result = {"before_us": median_us(before, repeat), "after_us": median_us(after, repeat)}
    return {**result, "ratio": round(result["after_us"] / result["before_us"], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=10, help="hits per query (the bench's k)")
    parser.add_argument("--dim", type=int, default=2168)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    data = search_answer(args.k, args.dim)
    for before, after in zip(plain_vectors(data), fast_vectors(data), strict=True):
        np.testing.assert_array_equal(before, after)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "k": args.k,
        "dim": args.dim,
        "vectors_to_numpy": compare(
            lambda: plain_vectors(data), lambda: fast_vectors(data), args.repeat
        ),
        # pymilvus's own SearchResult (it decodes every scalar cell), in both of the above
        "pymilvus_search_result_us": median_us(lambda: SearchResult(data), args.repeat),
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
