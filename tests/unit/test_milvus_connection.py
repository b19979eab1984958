"""How a failing Milvus call treats the connection other threads share: an error Milvus itself
answered keeps it; a broken connection is dropped (only that one) and the call retried once."""

from __future__ import annotations

import pytest
from pymilvus import MilvusException
from pymilvus.exceptions import MilvusUnavailableException

from services.errors import DependencyUnavailable
from services.milvus import MilvusConnection, milvus_call, server_answered
from services.settings import MilvusSettings


class Client:
    def __init__(self, name: str):
        self.name, self.closed = name, False

        self.collections = {"dogs"}

    def close(self) -> None:
        self.closed = True

    def has_collection(self, name: str) -> bool:
        return name in self.collections


class Connection(MilvusConnection):
    """Fails the first ``len(errors)`` calls with those errors; opens numbered clients."""

    def __init__(self, errors: list[Exception]):
        super().__init__(MilvusSettings(uri="http://127.0.0.1:1"), "dogs")
        self.errors = list(errors)
        self.opened: list[Client] = []

    @property
    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = Client(f"client{len(self.opened)}")
                self.opened.append(self._client)
            return self._client

    @milvus_call
    def call(self) -> str:
        client = self.client
        if self.errors:
            raise self.errors.pop(0)
        return client.name


def test_an_error_milvus_answered_keeps_the_shared_connection():
    connection = Connection([])
    assert connection.call() == "client0"
    connection.errors = [MilvusException(1100, "vector dimension mismatch")]
    with pytest.raises(DependencyUnavailable):
        connection.call()
    assert not connection.opened[0].closed and connection.call() == "client0"


@pytest.mark.parametrize(
    "error",
    [
        MilvusException(message="Unexpected error, message=<Cannot invoke RPC on closed channel!>"),
        MilvusUnavailableException(message="server unavailable"),
        MilvusException(2, "Fail connecting to server on 127.0.0.1:19530"),
        ConnectionError("reset by peer"),
    ],
)
def test_a_broken_connection_is_dropped_and_the_call_retried_on_a_fresh_one(error):
    connection = Connection([])
    connection.call()
    connection.errors = [error]
    assert connection.call() == "client1"
    assert connection.opened[0].closed and not connection.opened[1].closed


def test_a_failure_never_closes_a_fresh_connection_another_thread_opened():
    connection = Connection([])
    old = connection.client
    connection.reset(old)  # another thread dropped it and ...
    fresh = connection.client  # ... a third opened a fresh one
    connection.reset(old)  # a late failure on the old one
    assert connection.client is fresh and not fresh.closed


def test_what_counts_as_milvus_answering():
    assert server_answered(MilvusException(100, "alias 'dogs' does not exist"))
    assert server_answered(MilvusException(1100, "vector dimension mismatch"))
    assert not server_answered(MilvusException(message="Unexpected error"))
    assert not server_answered(MilvusException(2, "Fail connecting to server"))
    assert not server_answered(MilvusUnavailableException(message="unavailable"))
    assert not server_answered(OSError("broken pipe"))


@pytest.mark.parametrize(
    "error",
    [
        MilvusException(100, "collection 'dogs' does not exist"),
        MilvusException(65535, "incomplete query result, missing id 59d5, len(searchIDs) = 4"),
        MilvusException(
            65535,
            "failed to get delegator -1 for channel by-dev-rootcoord-dml_5_470832484351613986v0: "
            "can not find client of node -1",
        ),
    ],
)
def test_a_collection_lost_to_a_moving_alias_is_asked_again_on_the_same_connection(error):
    connection = Connection([error])
    assert connection.call() == "client0" and not connection.opened[0].closed


def test_a_collection_really_gone_is_an_error_at_once():
    connection = Connection([])
    connection.client.collections.clear()
    connection.errors = [MilvusException(100, "collection 'dogs' does not exist")]
    with pytest.raises(DependencyUnavailable, match="does not exist"):
        connection.call()
    assert connection.opened == [connection.client]  # no fresh connection for that either
