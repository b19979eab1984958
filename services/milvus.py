"""One Milvus connection per collection object, and the translation of every failure.

The same code serves Milvus Lite's gRPC server (the embedded default) and Milvus standalone or
distributed: only ``MILVUS_URI`` changes. Collection classes (:mod:`services.vectorstore`,
:mod:`services.deleted`) subclass :class:`MilvusConnection` and mark each public call with
:func:`milvus_call`, so Milvus being down is always a 503 that names Milvus.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload

from pymilvus import MilvusClient, MilvusException
from pymilvus.exceptions import MilvusUnavailableException

from services.consistency import Level, level_of
from services.errors import ApiError, DependencyUnavailable
from services.metrics import MILVUS_SECONDS
from services.milvus_rows import query_rows
from services.settings import MilvusSettings

log = logging.getLogger(__name__)

DEPENDENCY = "milvus"
COLLECTION_NOT_FOUND = 100
COLLECTION_NOT_LOADED = 101  # Milvus's error code for a released collection
FIRST_REQUEST_ERROR_CODE = 100  # Milvus's codes for errors of a request, not of the service
# pymilvus pings every 10 s, even when idle; Milvus Lite's gRPC server (grpc defaults) allows
# one ping per 5 minutes without data and answers more with GOAWAY "too_many_pings", which
# broke the idle connection of every client. Ping no more often than that, and not when idle;
# a dead connection is still noticed by the call that fails (and dropped, see reset()).
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}
QUERY_WINDOW = 16384  # the most rows one Milvus query returns (offset + limit)
HEX = "0123456789abcdef"  # ids are hex content hashes: ranges of them split rows evenly


def _successor(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def id_ranges(prefix: str) -> list[tuple[str | None, str | None, bool]]:
    """``(low, high, splittable)`` ranges ``low <= id < high`` that together hold every id
    starting with ``prefix`` (every id for ``""``), each once. A splittable range holds
    exactly the ids starting with ``low`` (``prefix`` and one hex digit); the others fill
    the gaps between them (ids with other characters there)."""
    ranges: list[tuple[str | None, str | None, bool]] = [(prefix or None, prefix + HEX[0], False)]
    for digit in HEX:
        start = prefix + digit
        if ranges[-1][1] != start:
            ranges.append((ranges[-1][1], start, False))
        ranges.append((start, _successor(start), True))
    ranges.append((ranges[-1][1], _successor(prefix) if prefix else None, False))
    return ranges


# How Milvus 2.3 reports a collection dropped under a running call (code 65535): between a
# search's two phases; or, for a search the proxy had routed to the old collection (it resolves
# the alias from a cache for a moment after it moves), when that collection's shards are gone.
LOST_MID_CALL = ("incomplete query result", "failed to get delegator")


def lost_collection(error: MilvusException) -> bool:
    """The collection went away during the call: a re-index dropped the one the alias named.
    Milvus says so as "collection not found", or as one of :data:`LOST_MID_CALL`."""
    message = str(error.message)
    return error.code == COLLECTION_NOT_FOUND or any(text in message for text in LOST_MID_CALL)


def server_answered(error: Exception) -> bool:
    """Milvus answered about the request itself (its error codes from 100 on: no such
    collection, not loaded, bad parameter...): the connection is sound, and closing it would
    break the calls other threads are making on it. Codes below 100 are pymilvus's own
    (unexpected error, cannot connect) or the service's (not ready, unavailable)."""
    return (
        isinstance(error, MilvusException)
        and not isinstance(error, MilvusUnavailableException)
        and error.code >= FIRST_REQUEST_ERROR_CODE
    )


Method = TypeVar("Method", bound=Callable[..., Any])


@overload
def milvus_call(method: Method) -> Method: ...


@overload
def milvus_call(*, operation: str | None = None) -> Callable[[Method], Method]: ...


def milvus_call(method: Any = None, *, operation: str | None = None) -> Any:
    """Milvus being down or failing is a 503 naming Milvus, whatever the call. Its time is
    recorded under ``operation`` (by default the method's name).

    Recovery after a Milvus restart needs no restart of the clients: a collection that Milvus
    released is loaded again and the call retried; a call that lost its collection because a
    re-index moved the alias and dropped the old one is retried on the new one; a call that
    fails on an existing connection (stale after the restart) drops it and is retried once on
    a fresh one, instead of waiting out gRPC's reconnect backoff (up to minutes). When Milvus
    is really down, the fresh connection fails too and the caller gets the 503. An error Milvus
    answered about the request itself (:func:`server_answered`) keeps the connection.
    """

    if method is None:
        return functools.partial(milvus_call, operation=operation)
    label = operation or method.__name__

    def attempt(self, args, kwargs):
        try:
            return method(self, *args, **kwargs)
        except MilvusException as error:
            if error.code == COLLECTION_NOT_LOADED:
                log.warning("collection was released; loading it", extra={"c": self.collection})
                self.client.load_collection(self.collection)
            elif lost_collection(error) and self.collection_exists_soon():
                log.warning("collection gone mid-call: alias moved", extra={"c": self.collection})
            else:
                raise
            return method(self, *args, **kwargs)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        started = time.perf_counter()
        had_connection = self._client is not None
        client = None
        try:
            try:
                client = self.client
                return attempt(self, args, kwargs)
            except ApiError:
                raise
            except Exception as error:
                if server_answered(error):  # the connection works: keep it, do not retry
                    raise
                self.reset(client)
                if not had_connection:
                    raise
                log.warning("Milvus call failed; retrying on a fresh connection")
                client = self.client
                return attempt(self, args, kwargs)
        except ApiError:
            raise
        except MilvusException as error:
            if not server_answered(error):
                self.reset(client)
            raise DependencyUnavailable(DEPENDENCY, error.message or str(error)) from None
        except Exception as error:  # grpc and connection errors come in many types
            self.reset(client)
            raise DependencyUnavailable(DEPENDENCY, f"{type(error).__name__}: {error}") from None
        finally:
            MILVUS_SECONDS.labels(label).observe(time.perf_counter() - started)

    return wrapper  # typed by the overloads: the method's own signature, for mypy


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

    def reset(self, failed: MilvusClient | None) -> None:
        """Forget the connection ``failed``, if it is still ours (another thread may already
        have opened a fresh one, which must not be closed under it)."""
        with self._lock:
            if failed is None or self._client is not failed:
                return
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing a broken channel may fail too; it is dropped either way
                log.debug("closing the Milvus client failed", exc_info=True)

    def last_write_ts(self) -> int:
        """A Milvus timestamp taken just after this process's last write, so a read that waits
        for it sees that write (0: unknown; Milvus Lite gives none, and reads are then Strong).

        Not the write's own timestamp: MilvusClient drops the mutation result, and Milvus 2.3.5
        answers a delete with timestamp 0, so pymilvus's record of the newest mutation is an
        earlier write's. A fresh timestamp from Milvus's one clock (``AllocTimestamp``) is at
        least the write's, for upserts and deletes alike, and costs one small call.
        """
        try:
            return int(self.client._get_connection().alloc_timestamp() or 0)
        except Exception:  # Lite, or another pymilvus: the reads wait at Strong instead
            log.debug("no timestamp from Milvus", exc_info=True)
            return 0

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

    def collection_exists_soon(self, wait_s: float = 1.0) -> bool:
        """The name answers again within ``wait_s`` (an alias just moved), or it is really
        gone."""
        deadline = time.monotonic() + wait_s
        while not self.client.has_collection(self.collection):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def scan(self, fields: list[str], level: str | Level, window: int = QUERY_WINDOW) -> list[dict]:
        """Every row, as plain queries of at most ``window`` rows, each at ``level``.

        Not ``query_iterator``: on Milvus 2.3 it ignores the consistency level (measured on
        the server binary: a row inserted just before was missing, and a deleted one still
        there), and a scan that feeds browsing must see the last change. A range of ids that
        fills a window is split on the next hex digit of the id.
        """
        rows: list[dict[str, Any]] = []
        read = level_of(level).kwargs()

        def collect(low: str | None, high: str | None, prefix: str | None) -> None:
            conditions = [f"id >= {json.dumps(low)}"] if low is not None else []
            conditions += [f"id < {json.dumps(high)}"] if high is not None else []
            batch = self.client.query(
                self.collection,
                filter=" and ".join(conditions),
                output_fields=fields,
                limit=window,
                **read,
            )
            if len(batch) < window:
                rows.extend(query_rows(batch))  # vectors as numpy rows, not lists of floats
            elif prefix is None:
                raise RuntimeError(f"more than {window} ids in [{low!r}, {high!r}) to scan")
            else:
                for sub_low, sub_high, splittable in id_ranges(prefix):
                    collect(sub_low, sub_high, sub_low if splittable else None)

        collect(None, None, "")
        return rows
