"""One Milvus connection per collection object, and the translation of every failure.

The same code serves Milvus Lite's gRPC server (the embedded default) and Milvus standalone or
distributed: only ``MILVUS_URI`` changes. Collection classes (:mod:`services.vectorstore`,
:mod:`services.deleted`) subclass :class:`MilvusConnection` and mark each public call with
:func:`milvus_call`, so Milvus being down is always a 503 that names Milvus.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from pymilvus import MilvusClient, MilvusException

from services.errors import ApiError, DependencyUnavailable
from services.metrics import MILVUS_SECONDS
from services.settings import MilvusSettings

log = logging.getLogger(__name__)

DEPENDENCY = "milvus"
COLLECTION_NOT_LOADED = 101  # Milvus's error code for a released collection
# pymilvus pings every 10 s, even when idle; Milvus Lite's gRPC server (grpc defaults) allows
# one ping per 5 minutes without data and answers more with GOAWAY "too_many_pings", which
# broke the idle connection of every client. Ping no more often than that, and not when idle;
# a dead connection is still noticed by the call that fails (and dropped, see reset()).
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}


def milvus_call(method):
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


class MilvusConnection:
    """A lazily opened connection of our own, for one collection (or alias) name."""

    def __init__(self, settings: MilvusSettings, collection: str):
        self.settings = settings
        self.collection = collection
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

    @milvus_call
    def ping(self) -> None:
        self.client.list_collections()

    def ready(self) -> str | None:
        try:
            self.ping()
        except ApiError as error:
            return error.message
        return None

    @milvus_call
    def exists(self) -> bool:
        return self.client.has_collection(self.collection)
