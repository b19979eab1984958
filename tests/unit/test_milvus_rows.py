"""Vectors read straight from pymilvus's response equal pymilvus's own decoding of them, and
anything the fast path was not written for takes the plain path.

The responses are real pymilvus objects built from the protobuf messages Milvus sends (a
search's ``SearchResultData``, a query's ``QueryResults`` through pymilvus's own ``query``),
so a pymilvus upgrade that changes their insides fails here or falls back, never answers
differently."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import DataType
from pymilvus.client.grpc_handler import GrpcHandler
from pymilvus.client.search_result import SearchResult
from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from services import milvus_rows
from services.milvus_rows import query_rows, search_rows

DIM = 6


def fields(ids: list[str], vectors: np.ndarray, nullable: bool = False) -> list:
    breed = schema_pb2.FieldData(type=DataType.VARCHAR, field_name="breed", field_id=101)
    breed.scalars.string_data.data.extend([f"breed-{name}" for name in ids])
    vector = schema_pb2.FieldData(type=DataType.FLOAT_VECTOR, field_name="vector", field_id=102)
    vector.vectors.dim = DIM
    vector.vectors.float_vector.data.extend(vectors.ravel().tolist())
    if nullable:
        vector.valid_data.extend([True] * len(ids))
    return [breed, vector]


def search_answer(topks: list[int], nullable: bool = False) -> tuple[SearchResult, np.ndarray]:
    total = sum(topks)
    vectors = np.random.default_rng(total).normal(size=(total, DIM)).astype(np.float32)
    ids = [f"id{n}" for n in range(total)]
    data = schema_pb2.SearchResultData(
        num_queries=len(topks), top_k=max(topks), topks=topks, scores=np.linspace(1, 0, total)
    )
    data.ids.str_id.data.extend(ids)
    data.fields_data.extend(fields(ids, vectors, nullable))
    data.output_fields.extend(["breed", "vector"])
    return SearchResult(data), vectors


def plain_search(results) -> list[list[tuple[dict, float]]]:
    """pymilvus's own decoding: iterating a query's hits decodes each vector as floats."""
    return [
        [({"id": hit["id"], **hit["entity"]}, float(hit["distance"])) for hit in hits]
        for hits in results
    ]


def assert_same_rows(fast: list[dict], plain: list[dict], as_numpy: bool = True) -> None:
    """The same rows; with ``as_numpy``, each vector a float32 array."""
    assert [set(row) for row in fast] == [set(row) for row in plain]
    for got, want in zip(fast, plain, strict=True):
        for key, value in want.items():
            if key == "vector":
                if as_numpy:
                    assert isinstance(got[key], np.ndarray) and got[key].dtype == np.float32
                np.testing.assert_array_equal(got[key], np.asarray(value, np.float32))
            else:
                assert got[key] == value


def test_search_vectors_come_as_numpy_rows_equal_to_pymilvus_own(monkeypatch):
    results, vectors = search_answer([3, 4])
    calls = []
    real = milvus_rows._float_matrix
    monkeypatch.setattr(milvus_rows, "_float_matrix", lambda f: calls.append(f) or real(f))
    fast = search_rows(results)
    assert len(calls) == 1  # the two queries share one copy of the answer's vectors
    assert not any(hits.has_materialized for hits in results)  # no list of floats was made
    plain = plain_search(results)
    assert [len(hits) for hits in fast] == [3, 4]
    for got, want in zip(fast, plain, strict=True):
        assert [distance for _, distance in got] == [distance for _, distance in want]
        assert_same_rows([row for row, _ in got], [row for row, _ in want])
    np.testing.assert_array_equal(fast[1][0][0]["vector"], vectors[3])  # second query, first hit
    with pytest.raises(ValueError):
        fast[0][0][0]["vector"][0] = 1.0  # rows of one shared array: read-only


@pytest.mark.parametrize("case", ["materialized", "nullable", "plain lists"])
def test_search_answers_the_fast_path_does_not_know_are_decoded_the_plain_way(case):
    results, _ = search_answer([2, 2], nullable=case == "nullable")
    if case == "materialized":
        results.materialize()
    plain = plain_search(results)
    given = plain if case == "plain lists" else results
    if case == "plain lists":
        given = [[{"id": r["id"], "distance": d, "entity": r} for r, d in hits] for hits in plain]
    got = search_rows(given)
    for hits, want in zip(got, plain, strict=True):
        assert [d for _, d in hits] == [d for _, d in want]
        assert_same_rows([r for r, _ in hits], [r for r, _ in want], as_numpy=False)
        assert all(isinstance(r["vector"], list) for r, _ in hits)  # the plain path


class QueryStub:
    """The gRPC stub's ``Query``, answering what Milvus sends for a get of ``ids``."""

    def __init__(self, ids: list[str], vectors: np.ndarray):
        self.answer = milvus_pb2.QueryResults(
            status=common_pb2.Status(), collection_name="c", output_fields=["id", "breed", "vector"]
        )
        key = schema_pb2.FieldData(type=DataType.VARCHAR, field_name="id", field_id=100)
        key.scalars.string_data.data.extend(ids)
        self.answer.fields_data.extend([key, *fields(ids, vectors)])

    def Query(self, request, timeout=None, metadata=None):  # gRPC's name
        return self.answer


def query_answer(count: int):
    vectors = np.random.default_rng(count).normal(size=(count, DIM)).astype(np.float32)
    handler = object.__new__(GrpcHandler)  # pymilvus's own query, on a stub instead of a channel
    handler._stub = QueryStub([f"id{n}" for n in range(count)], vectors)
    handler._address = "127.0.0.1:19530"
    rows = GrpcHandler.query.__wrapped__(
        handler, "c", expr="", output_fields=["breed", "vector"], consistency_level="Bounded"
    )
    return rows, vectors


@pytest.mark.parametrize("count", [0, 1, 5])
def test_query_vectors_come_as_numpy_rows_equal_to_pymilvus_own(count):
    rows, vectors = query_answer(count)
    fast = query_rows(rows)
    assert not any(rows._materialized_bitmap)
    assert_same_rows(fast, [dict(row) for row in rows])
    if count:
        np.testing.assert_array_equal(fast[-1]["vector"], vectors[-1])


def test_a_query_answer_already_decoded_is_copied_as_it_is():
    rows, _ = query_answer(3)
    rows.materialize()
    got = query_rows(rows)
    assert_same_rows(got, [dict(row) for row in rows], as_numpy=False)
    assert all(isinstance(row["vector"], list) for row in got)  # the plain path


def test_a_field_the_fast_path_was_not_written_for_is_left_to_pymilvus():
    field = schema_pb2.FieldData(type=DataType.FLOAT16_VECTOR, field_name="v")
    assert milvus_rows._float_matrix(field) is None
    ragged = fields(["a"], np.zeros((1, DIM), np.float32))[1]
    ragged.vectors.float_vector.data.append(1.0)
    assert milvus_rows._float_matrix(ragged) is None
