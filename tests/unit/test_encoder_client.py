"""The encoder client spreads requests over every replica behind one name."""

from __future__ import annotations

import socket
import threading
from http.server import ThreadingHTTPServer

import pytest

from services.encoder_client import EncoderClient, spread_urls
from tests.support.http_stub import JsonHandler, serving

INFO = {"model": {"arch": "resnet152", "dim": 2048, "fingerprint": "f", "weights": "imagenet"}}


class InfoHandler(JsonHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.connection.getsockname()[0])  # which replica answered
        self.send_json(INFO)


@pytest.fixture
def two_replicas():
    """Two servers on one port at 127.0.0.1 and 127.0.0.2, like two containers of a service."""
    InfoHandler.hits = []
    first = ThreadingHTTPServer(("127.0.0.1", 0), InfoHandler)
    port = first.server_address[1]
    try:
        second = ThreadingHTTPServer(("127.0.0.2", port), InfoHandler)
    except OSError:
        first.server_close()
        pytest.skip("127.0.0.2 is not usable here")
    servers = [first, second]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port
    for server in servers:
        server.shutdown()
        server.server_close()


def test_spread_urls_expands_a_name_into_its_addresses():
    def resolver(host, port):
        return {"encoder": ["10.0.0.7", "10.0.0.5", "fd00::3"]}.get(host, [])

    assert spread_urls(["http://encoder:8001", "http://other:9000/"], resolver) == [
        "http://10.0.0.7:8001",
        "http://10.0.0.5:8001",
        "http://[fd00::3]:8001",
        "http://other:9000/",
    ]
    assert spread_urls(["https://encoder:8443"], resolver) == ["https://encoder:8443"]


def test_requests_reach_every_replica_behind_one_name(two_replicas):
    def resolver(host, port):
        assert (host, port) == ("encoder", two_replicas)
        return ["127.0.0.1", "127.0.0.2"]

    client = EncoderClient([f"http://encoder:{two_replicas}"], spread_dns=True, resolver=resolver)
    for _ in range(6):
        assert client.info().dim == 2048
    assert sorted(InfoHandler.hits) == ["127.0.0.1"] * 3 + ["127.0.0.2"] * 3


def test_without_spreading_the_name_is_used_as_given(two_replicas):
    client = EncoderClient([f"http://127.0.0.2:{two_replicas}"])
    client.info()
    assert InfoHandler.hits == ["127.0.0.2"]


class BrokenOffHandler(JsonHandler):
    """Promises a body and closes the connection before sending it: an encoder killed while
    it answered."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "31725")
        self.end_headers()
        self.wfile.flush()
        self.connection.close()


def test_an_answer_that_breaks_off_is_a_503_not_a_crash():
    from services.errors import DependencyUnavailable

    with serving(BrokenOffHandler) as url:
        client = EncoderClient([url], 5)
        with pytest.raises(DependencyUnavailable, match="broke off"):
            client.info()


class ExplainHandler(JsonHandler):
    """``/explain`` as the encoder answers it: JSON with the similarity and two maps."""

    ANSWER = {"similarity": 0.5, "heat": [{"rows": 1, "cols": 1, "grid": [[1.0]], "peak": [0, 0]}]}

    def do_POST(self):
        self.read_body()
        self.send_json(self.ANSWER)


def test_explain_answers_the_encoders_json():
    """The search API's ``/api/why`` reads the answer as a dict (it was once the raw response,
    a 500 that only a real encoder showed)."""
    with serving(ExplainHandler) as url:
        answer = EncoderClient([url]).explain(("a.jpg", b"a"), ("b.jpg", b"b"))
    assert answer == ExplainHandler.ANSWER


class ClosesFirstHandler(JsonHandler):
    """Closes its first connection without an answer, as a server does with a kept-alive
    connection at the moment its keep-alive runs out; answers every later one."""

    calls = 0

    def do_GET(self):
        type(self).calls += 1
        if type(self).calls == 1:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_json(INFO)


def test_a_connection_closed_under_the_request_is_tried_once_more():
    ClosesFirstHandler.calls = 0
    with serving(ClosesFirstHandler) as url:
        model = EncoderClient([url], 5).info()
    assert model.arch == "resnet152" and ClosesFirstHandler.calls == 2
