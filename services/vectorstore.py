"""All Milvus access: the one collection spec, index choice, and error translation.

The same code serves Milvus Lite's gRPC server (the embedded default) and Milvus standalone or
distributed: only ``MILVUS_URI`` changes. The collection records which model produced its
vectors (arch, dim, fingerprint) as a collection property, and every row carries the
fingerprint too, so vectors from two models are never mixed silently.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from services.errors import ApiError, DependencyUnavailable
from services.metrics import MILVUS_SECONDS
from services.schema import ModelInfo
from services.settings import MilvusSettings

log = logging.getLogger(__name__)

DEPENDENCY = "milvus"
COLLECTION_NOT_LOADED = 101  # Milvus's error code for a released collection
# pymilvus pings every 10 s, even when idle; Milvus Lite's gRPC server (grpc defaults) allows
# one ping per 5 minutes without data and answers more with GOAWAY "too_many_pings", which
# broke the idle connection of every client. Ping no more often than that, and not when idle;
# a dead connection is still noticed by the call that fails (and dropped, see reset()).
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}
MODEL_PROPERTY = "dogsearch.model"
SCALAR_FIELDS = ("breed", "breed_id", "path", "width", "height", "split", "fingerprint")
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
    id: str
    similarity: float  # cosine similarity in [-1, 1]; rescaled for display by callers
    fields: dict[str, Any]


def _translate_errors(method):
    """Milvus being down or failing is a 503 naming Milvus, whatever the call.

    Recovery after a Milvus restart needs no restart of the clients: a collection that Milvus
    released is loaded again and the call retried; a call that fails on an existing connection
    (stale after the restart) drops it and is retried once on a fresh one, instead of waiting
    out gRPC's reconnect backoff (up to minutes). When Milvus is really down, the fresh
    connection fails too and the caller gets the 503.
    """

    def attempt(self, args, kwargs):
        try:
            return method(self, *args, **kwargs)
        except MilvusException as error:
            if error.code != COLLECTION_NOT_LOADED:
                raise
            log.warning("collection was released; loading it", extra={"c": self.collection})
            self.client.load_collection(self.collection)
            return method(self, *args, **kwargs)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            had_connection = self._client is not None
            try:
                return attempt(self, args, kwargs)
            except ApiError:
                raise
            except Exception:
                self.reset()
                if not had_connection:
                    raise
                log.warning("Milvus call failed; retrying on a fresh connection")
                return attempt(self, args, kwargs)
        except ApiError:
            raise
        except MilvusException as error:
            self.reset()
            raise DependencyUnavailable(DEPENDENCY, error.message or str(error)) from None
        except Exception as error:  # grpc and connection errors come in many types
            self.reset()
            raise DependencyUnavailable(DEPENDENCY, f"{type(error).__name__}: {error}") from None
        finally:
            MILVUS_SECONDS.labels(method.__name__).observe(time.perf_counter() - started)

    return wrapper


class VectorStore:
    def __init__(self, settings: MilvusSettings, collection: str | None = None):
        self.settings = settings
        self.collection = collection or settings.collection
        self._client: MilvusClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> MilvusClient:
        with self._lock:
            if self._client is None:
                self._client = MilvusClient(
                    uri=self.settings.uri,
                    token=self.settings.token,
                    timeout=self.settings.timeout_s,
                    grpc_options=GRPC_OPTIONS,
                    # Our own connection, not pymilvus's process-wide shared one: reset() must
                    # really drop a connection that went bad while Milvus restarted.
                    dedicated=True,
                )
            return self._client

    def reset(self) -> None:
        """Forget the connection; the next call connects afresh."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing a broken channel may fail too; it is dropped either way
                log.debug("closing the Milvus client failed", exc_info=True)

    @_translate_errors
    def ping(self) -> None:
        self.client.list_collections()

    def ready(self) -> str | None:
        try:
            self.ping()
        except ApiError as error:
            return error.message
        return None

    @_translate_errors
    def exists(self) -> bool:
        return self.client.has_collection(self.collection)

    @_translate_errors
    def model(self) -> ModelInfo | None:
        """The model recorded on the collection, or ``None`` if there is no collection."""
        if not self.client.has_collection(self.collection):
            return None
        properties = self.client.describe_collection(self.collection).get("properties", {})
        raw = properties.get(MODEL_PROPERTY)
        return ModelInfo.from_dict(json.loads(raw)) if raw else None

    @_translate_errors
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
        schema.add_field("id", DataType.VARCHAR, max_length=64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=model.dim)
        schema.add_field("breed", DataType.VARCHAR, max_length=128)
        schema.add_field("breed_id", DataType.INT32)
        schema.add_field("path", DataType.VARCHAR, max_length=1024)
        schema.add_field("width", DataType.INT32)
        schema.add_field("height", DataType.INT32)
        schema.add_field("split", DataType.VARCHAR, max_length=16)
        schema.add_field("fingerprint", DataType.VARCHAR, max_length=64)
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

    @_translate_errors
    def physical_collection(self) -> str | None:
        """The collection behind ``self.collection``: the alias's target, itself, or ``None``."""
        try:
            return self.client.describe_alias(self.collection)["collection_name"]
        except MilvusException:
            return self.collection if self.client.has_collection(self.collection) else None

    @_translate_errors
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
        log.info("alias switched", extra={"alias": self.collection, "to": target, "from": previous})
        return previous

    @_translate_errors
    def drop_physical(self, name: str) -> None:
        if self.client.has_collection(name):
            self.client.drop_collection(name)

    @_translate_errors
    def drop(self) -> None:
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)

    @_translate_errors
    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = self.client.get(self.collection, ids=list(ids), output_fields=["id"])
        return {row["id"] for row in rows}

    @_translate_errors
    def upsert(self, records: Sequence[dict[str, Any]]) -> None:
        """Idempotent write: the id is the content hash, so a repeat replaces, never duplicates."""
        if records:
            self.client.upsert(self.collection, list(records))

    @_translate_errors
    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.client.delete(self.collection, ids=list(ids))

    @_translate_errors
    def flush(self) -> None:
        self.client.flush(self.collection)

    @_translate_errors
    def wait_for_index(self, timeout_s: float = 1800) -> None:
        """Block until every row is indexed: until then searches scan unindexed rows."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            info = self.client.describe_index(self.collection, "vector")
            if not info.get("pending_index_rows"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"the index of {self.collection} is not built after {timeout_s}s")

    @_translate_errors
    def warm(self) -> None:
        """Load the collection and run one search, so the first user does not pay for either."""
        model = self.model()
        if model is None:
            return
        self.client.load_collection(self.collection)
        probe = np.full(model.dim, 1 / np.sqrt(model.dim), dtype=np.float32)
        self.search(probe, 1)

    @_translate_errors
    def get(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[dict[str, Any]]:
        if not ids:
            return []
        fields = ["id", *SCALAR_FIELDS] + (["vector"] if with_vectors else [])
        return list(self.client.get(self.collection, ids=list(ids), output_fields=fields))

    @_translate_errors
    def search(
        self,
        vector: np.ndarray,
        k: int,
        *,
        breed: str | None = None,
        exclude_id: str | None = None,
        with_vectors: bool = False,
    ) -> list[Hit]:
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
            data=[np.asarray(vector, dtype=np.float32).tolist()],
            limit=k,
            filter=" and ".join(conditions),
            output_fields=list(SCALAR_FIELDS) + (["vector"] if with_vectors else []),
            search_params={"metric_type": "COSINE", "params": params},
        )
        return [
            Hit(id=hit["id"], similarity=float(hit["distance"]), fields=dict(hit["entity"]))
            for hit in results[0]
        ]

    @_translate_errors
    def count(self) -> int:
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    @_translate_errors
    def all_vectors(self, batch_size: int = 1000) -> tuple[list[str], np.ndarray]:
        """Every id and its vector (``[N, dim]`` float32), for whole-library analyses."""
        iterator = self.client.query_iterator(
            self.collection, batch_size=batch_size, filter="", output_fields=["id", "vector"]
        )
        ids: list[str] = []
        vectors: list[np.ndarray] = []
        try:
            while batch := iterator.next():
                ids.extend(row["id"] for row in batch)
                vectors.append(np.asarray([row["vector"] for row in batch], dtype=np.float32))
        finally:
            iterator.close()
        return ids, np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)

    @_translate_errors
    def all_rows(self, batch_size: int = 4000) -> list[dict[str, Any]]:
        """Every row's scalar fields (no vectors); for the browse catalogue and checks."""
        iterator = self.client.query_iterator(
            self.collection, batch_size=batch_size, filter="", output_fields=["id", *SCALAR_FIELDS]
        )
        rows: list[dict[str, Any]] = []
        try:
            while batch := iterator.next():
                rows.extend(batch)
        finally:
            iterator.close()
        return rows


def check_same_model(stored: ModelInfo, current: ModelInfo, collection: str) -> None:
    if (stored.arch, stored.dim, stored.fingerprint) != (
        current.arch,
        current.dim,
        current.fingerprint,
    ):
        raise ModelMismatch(
            f"collection {collection!r} holds vectors of {stored.arch} (dim {stored.dim}, "
            f"fingerprint {stored.fingerprint}) but the encoder runs {current.arch} (dim "
            f"{current.dim}, fingerprint {current.fingerprint}); re-index with "
            "`python scripts/ingest.py --reindex DIR`"
        )
