"""The photo collection: its schema, index, and every read and write of photos.

The collection records which model produced its vectors (arch, dim, fingerprint) as a
collection property, and every row carries the fingerprint too, so vectors from two models are
never mixed silently. Its name is usually an alias (``dogs``) of a versioned collection, so a
re-index can switch models in one step (:meth:`VectorStore.point_alias_at`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusException

from services.consistency import BOUNDED, STRONG, Level, ReadConsistency
from services.encoder_wire import ModelInfo
from services.errors import ApiError
from services.milvus import MilvusConnection, milvus_call
from services.milvus_rows import query_rows, search_rows
from services.photo import FIELD_NAMES, FIELDS, ID, Photo
from services.settings import MilvusSettings

log = logging.getLogger(__name__)

MODEL_PROPERTY = "dogsearch.model"
VECTOR_WINDOW = 2048  # rows per query when vectors come along: 2048 x 2048-d = 16 MB
INDEX_PARAMS = {
    "HNSW": lambda s: {"M": s.hnsw_m, "efConstruction": s.hnsw_ef_construction},
    "IVF_FLAT": lambda s: {"nlist": s.ivf_nlist},
    "IVF_SQ8": lambda s: {"nlist": s.ivf_nlist},
    "FLAT": lambda s: {},
}


class ModelMismatch(ApiError):
    """The collection's vectors come from another model than the encoder's (409)."""

    status = 409
    code = "model_mismatch"


@dataclass(frozen=True)
class Hit:
    photo: Photo  # with its vector when the search asked for vectors
    similarity: float  # cosine similarity in [-1, 1]; rescaled for display by callers

    @property
    def id(self) -> str:
        return self.photo.id


def add_fields(schema: Any, fields=FIELDS) -> None:
    """Milvus fields for :data:`services.photo.FIELDS` (and any spec of the same shape)."""
    for field in fields:
        if field.kind == "str":
            schema.add_field(field.name, DataType.VARCHAR, max_length=field.max_length)
        else:
            schema.add_field(field.name, DataType.INT32)


class VectorStore(MilvusConnection):
    """The photo collection. Each read asks Milvus for the consistency level that
    :mod:`services.consistency` chooses; each write tells ``consistency`` that the index changed."""

    def __init__(
        self,
        settings: MilvusSettings,
        collection: str | None = None,
        consistency: ReadConsistency | None = None,
    ):
        super().__init__(settings, collection or settings.collection)
        self.consistency = consistency or ReadConsistency(window_s=settings.strong_after_write_s)

    @milvus_call
    def model(self) -> ModelInfo | None:
        """The model recorded on the collection, or ``None`` if there is no collection."""
        if not self.client.has_collection(self.collection):
            return None
        properties = self.client.describe_collection(self.collection).get("properties", {})
        raw = properties.get(MODEL_PROPERTY)
        return ModelInfo.from_dict(json.loads(raw)) if raw else None

    @milvus_call
    def ensure_collection(self, model: ModelInfo) -> None:
        """Create the collection for ``model``, or check that the existing one matches it."""
        existing = self.model() if self.client.has_collection(self.collection) else None
        if existing is None and self.client.has_collection(self.collection):
            raise ModelMismatch(f"collection {self.collection!r} was not created by dogsearch")
        if existing is not None:
            check_same_model(existing, model, self.collection)
            if "vector" not in self.client.list_indexes(self.collection):
                self._create_index()  # creation stopped between the collection and its index
            self.client.load_collection(self.collection)
            return
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID.name, DataType.VARCHAR, max_length=ID.max_length, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=model.dim)
        add_fields(schema)
        index_params = self._index_params()
        self.client.create_collection(
            self.collection, schema=schema, properties={MODEL_PROPERTY: json.dumps(model.to_dict())}
        )
        self._create_index(index_params)
        self.client.load_collection(self.collection)
        log.info(
            "created collection",
            extra={
                "collection": self.collection,
                "index": self.settings.index_type.upper(),
                **model.to_dict(),
            },
        )

    def _index_params(self) -> Any:
        index_type = self.settings.index_type.upper()
        if index_type not in INDEX_PARAMS:
            raise ValueError(f"MILVUS_INDEX_TYPE must be one of {sorted(INDEX_PARAMS)}")
        index_params = self.client.prepare_index_params()
        index_params.add_index(
            "vector",
            index_type=index_type,
            metric_type="COSINE",
            params=INDEX_PARAMS[index_type](self.settings),
        )
        return index_params

    def _create_index(self, index_params: Any = None, attempts: int = 3) -> None:
        """Create the vector index, again if Milvus Lite lost it.

        Milvus Lite 3.2 opens a just-created collection without a lock: when another client
        (an API worker warming up) touches it at that moment, two copies are opened, the index
        lands on the one Lite then forgets, and waiting for it fails with "no index". Creating
        it again reaches the copy that stayed; creating an existing index is a no-op.
        """
        index_params = index_params or self._index_params()
        for attempt in range(1, attempts + 1):
            try:
                self.client.create_index(self.collection, index_params)
            except MilvusException as error:
                if attempt == attempts or "no index" not in str(error.message):
                    raise
                log.warning(
                    "the new collection lost its index; creating it again",
                    extra={"collection": self.collection, "attempt": attempt},
                )
                continue
            if "vector" in self.client.list_indexes(self.collection):
                return
        raise MilvusException(message=f"collection {self.collection!r} has no vector index")

    @milvus_call
    def physical_collection(self) -> str | None:
        """The collection behind ``self.collection``: the alias's target, itself, or ``None``."""
        try:
            with _quiet_pymilvus():  # "no such alias" is an answer here, not an error to log
                return self.client.describe_alias(self.collection)["collection_name"]
        except MilvusException:
            return self.collection if self.client.has_collection(self.collection) else None

    @milvus_call
    def point_alias_at(self, target: str) -> str | None:
        """Make ``self.collection`` an alias of ``target`` in one step; returns the previous
        collection behind the name (to drop once nothing uses it), or ``None``.

        A name that is still a plain collection (an index from before aliases) cannot become an
        alias while it exists, so it is dropped first: the one moment without an index.
        """
        previous = self.physical_collection()
        if previous is None:
            self.client.create_alias(target, self.collection)
        elif previous == self.collection:
            self.client.drop_collection(previous)
            self.client.create_alias(target, self.collection)
            previous = None
        else:
            self.client.alter_alias(target, self.collection)
        self.consistency.wrote()  # no timestamp: reads are Strong for the window
        log.info("alias switched", extra={"alias": self.collection, "to": target, "from": previous})
        return previous

    @milvus_call
    def drop_physical(self, name: str) -> None:
        if self.client.has_collection(name):
            self.client.drop_collection(name)

    @milvus_call
    def drop(self) -> None:
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)

    @milvus_call
    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = self.client.get(
            self.collection, ids=list(ids), output_fields=["id"], consistency_level=STRONG
        )
        return {row["id"] for row in rows}

    @milvus_call
    def upsert(self, photos: Sequence[Photo]) -> None:
        """Idempotent write: the id is the content hash, so a repeat replaces, never duplicates.
        Each photo must carry its vector."""
        if photos:
            self.client.upsert(self.collection, [photo.to_row() for photo in photos])
            self.consistency.wrote(self.last_write_ts())

    @milvus_call
    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.client.delete(self.collection, ids=list(ids))
            self.consistency.wrote(self.last_write_ts())  # taken after it: not an earlier write's

    @milvus_call
    def flush(self) -> None:
        self.client.flush(self.collection)

    @milvus_call
    def wait_for_index(self, timeout_s: float = 1800) -> None:
        """Block until every row is indexed: until then searches scan unindexed rows."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            info = self.client.describe_index(self.collection, "vector")
            if not info.get("pending_index_rows"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"the index of {self.collection} is not built after {timeout_s}s")

    @milvus_call
    def warm(self) -> None:
        """Load the collection and run one search, so the first user does not pay for either."""
        model = self.model()
        if model is None:
            return
        self.client.load_collection(self.collection)
        probe = np.full(model.dim, 1 / np.sqrt(model.dim), dtype=np.float32)
        self.search(probe, 1)

    @milvus_call
    def get(
        self, ids: Sequence[str], *, with_vectors: bool = False, to_write: bool = False
    ) -> list[Photo]:
        """Photos by id. ``to_write``: the caller writes from them, so the read is Strong."""
        if not ids:
            return []
        fields = ["id", *FIELD_NAMES] + (["vector"] if with_vectors else [])
        level = Level(STRONG) if to_write else self.consistency.for_search()
        rows = self.client.get(
            self.collection, ids=list(ids), output_fields=fields, **level.kwargs()
        )
        return [Photo.from_row(row) for row in query_rows(rows)]

    def search(
        self,
        vector: np.ndarray,
        k: int,
        *,
        breed: str | None = None,
        exclude_id: str | None = None,
        with_vectors: bool = False,
    ) -> list[Hit]:
        return self.search_many(
            [vector], k, breed=breed, exclude_id=exclude_id, with_vectors=with_vectors
        )[0]

    @milvus_call(operation="search")
    def search_many(
        self,
        vectors: Sequence[np.ndarray],
        k: int,
        *,
        breed: str | None = None,
        exclude_id: str | None = None,
        with_vectors: bool = False,
    ) -> list[list[Hit]]:
        """The ``k`` best hits of each query vector, in one request: Milvus then plans,
        waits for consistency and answers once for all of them."""
        conditions = []
        if breed is not None:
            conditions.append(f"breed == {json.dumps(breed)}")
        if exclude_id is not None:
            conditions.append(f"id != {json.dumps(exclude_id)}")
        index_type = self.settings.index_type.upper()
        params = (
            {"ef": max(self.settings.search_ef, k)}
            if index_type == "HNSW"
            else {"nprobe": self.settings.search_nprobe}
        )
        results = self.client.search(
            self.collection,
            data=[np.asarray(vector, dtype=np.float32) for vector in vectors],
            limit=k,
            filter=" and ".join(conditions),
            output_fields=list(FIELD_NAMES) + (["vector"] if with_vectors else []),
            search_params={"metric_type": "COSINE", "params": params},
            **self.consistency.for_search().kwargs(),
        )
        return [
            [Hit(Photo.from_row(row), distance) for row, distance in hits]
            for hits in search_rows(results)
        ]

    @milvus_call
    def count(self) -> int:
        rows = self.client.query(
            self.collection,
            filter="",
            output_fields=["count(*)"],
            **self.consistency.for_search().kwargs(),
        )
        return int(rows[0]["count(*)"])

    @milvus_call
    def all_vectors(self) -> tuple[list[str], np.ndarray]:
        """Every id and its vector (``[N, dim]`` float32), for whole-library analyses."""
        rows = self.scan(["id", "vector"], self.consistency.for_search(), window=VECTOR_WINDOW)
        ids = [row["id"] for row in rows]
        if not rows:
            return ids, np.zeros((0, 0), np.float32)
        return ids, np.asarray([row["vector"] for row in rows], dtype=np.float32)

    @milvus_call
    def all_rows(self, *, strong: bool = True) -> list[Photo]:
        """Every photo without its vector; for the browse catalogue and checks."""
        rows = self.scan(["id", *FIELD_NAMES], STRONG if strong else BOUNDED)
        return [Photo.from_row(row) for row in rows]


@contextlib.contextmanager
def _quiet_pymilvus() -> Iterator[None]:
    """pymilvus logs every failed call with a traceback at ERROR before raising it; for a call
    whose failure is expected, only the exception should speak (make up printed a traceback
    when a new model made it re-index)."""
    logger = logging.getLogger("pymilvus.decorators")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def check_same_model(stored: ModelInfo, current: ModelInfo, collection: str) -> None:
    if not stored.same_model(current):
        raise ModelMismatch(
            f"collection {collection!r} holds vectors of {stored.arch} (dim {stored.dim}, "
            f"fingerprint {stored.fingerprint}) but the encoder runs {current.arch} (dim "
            f"{current.dim}, fingerprint {current.fingerprint}); re-index with "
            "`python -m scripts.jobs.ingest --reindex`"
        )
