"""Rows of pymilvus results with each float vector as a numpy row, never a list of floats.

pymilvus decodes each returned vector into a list of Python floats (2,168 per hit), which the
store then turns back into numpy: at 20k on the server that was 19 % of "more like this"
(docs/performance.md). The packed floats are already in the response, one protobuf repeated
field per vector field (``fields_data[i].vectors.float_vector.data``, every result row's
vector one after another); ``np.array`` copies that field in one step, and each row becomes a
read-only view of the one ``[n, dim]`` array.

This reads pymilvus internals (2.6: ``HybridHits.lazy_field_data`` and ``.start`` of a search
result, ``HybridExtraList._lazy_field_data`` of a query result, the rows each keeps before
decoding its vectors). Whenever they are not what is expected (another pymilvus, a nullable or
another kind of field, a fake client's plain lists), the rows are decoded the plain way, so a
change in pymilvus costs speed, not answers; ``tests/unit/test_milvus_rows.py`` compares both
paths on a real response.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from pymilvus import DataType


def search_rows(results: Iterable[Any]) -> list[list[tuple[dict[str, Any], float]]]:
    """Each query's hits of a ``MilvusClient.search`` answer as ``(row, distance)``: ``row``
    holds ``id`` and every output field, float vectors as ``float32`` rows."""
    cache: dict[int, np.ndarray | None] = {}  # the queries of one answer share its fields
    return [_hits_rows(hits, cache) for hits in results]


def query_rows(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows of a ``MilvusClient.query`` or ``get`` answer, float vectors as ``float32``
    rows (a new dict per row: pymilvus's own are left as they are)."""
    fast = _query_fast(rows)
    return fast if fast is not None else [dict(row) for row in rows]


def _hits_rows(hits: Any, cache: dict[int, np.ndarray | None]) -> list[tuple[dict, float]]:
    fast = _hits_fast(hits, cache)
    if fast is not None:
        return fast
    return [({"id": hit["id"], **hit["entity"]}, float(hit["distance"])) for hit in hits]


def _hits_fast(hits: Any, cache: dict[int, np.ndarray | None]) -> list[tuple[dict, float]] | None:
    lazy = getattr(hits, "lazy_field_data", None)
    start = getattr(hits, "start", None)
    if not isinstance(lazy, list) or not isinstance(start, int) or not isinstance(hits, list):
        return None
    if getattr(hits, "has_materialized", True):
        return None  # already decoded (or not the class this was written against)
    count = len(hits)
    vectors: dict[str, np.ndarray] = {}
    for field in lazy:
        if id(field) not in cache:
            cache[id(field)] = _float_matrix(field)
        matrix = cache[id(field)]
        if matrix is None or len(matrix) < start + count:
            return None
        vectors[field.field_name] = matrix[start : start + count]
    out = []
    for index in range(count):
        raw = list.__getitem__(hits, index)  # not hits[i]: that decodes every vector as floats
        row = {"id": raw["id"], **raw["entity"]}
        for name, matrix in vectors.items():
            row[name] = matrix[index]
        out.append((row, float(raw["distance"])))
    return out


def _query_fast(rows: Sequence[Any]) -> list[dict[str, Any]] | None:
    lazy = getattr(rows, "_lazy_field_data", None)
    bitmap = getattr(rows, "_materialized_bitmap", None)
    if not isinstance(lazy, list) or not isinstance(rows, list) or bitmap is None:
        return None
    if any(bitmap):
        return None
    count = len(rows)
    vectors: dict[str, np.ndarray] = {}
    for field in lazy:
        matrix = _float_matrix(field)
        if matrix is None or len(matrix) != count:
            return None
        vectors[field.field_name] = matrix
    out = []
    for index in range(count):
        row = dict(list.__getitem__(rows, index))
        for name, matrix in vectors.items():
            row[name] = matrix[index]
        out.append(row)
    return out


def _float_matrix(field: Any) -> np.ndarray | None:
    """``[n, dim]`` float32 (read-only) of a dense float vector field, or ``None`` for any
    other field (JSON, sparse, nullable, other precisions): those take the plain path."""
    try:
        if field.type != DataType.FLOAT_VECTOR or len(field.valid_data):
            return None
        dim = int(field.vectors.dim)
        flat = np.array(field.vectors.float_vector.data, dtype=np.float32)
    except (AttributeError, TypeError, ValueError):
        return None
    if dim <= 0 or flat.ndim != 1 or len(flat) % dim:
        return None
    matrix = flat.reshape(-1, dim)
    matrix.flags.writeable = False  # rows are shared by the photos made from them
    return matrix
