"""Localisation is asked for per request: only the upload search asks, never ingest or a
library add, because it makes each encode ~3.2x slower. Over real HTTP, so what is checked
is the request the encoder receives."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest

from services.encoder_client import EncoderClient
from services.encoder_wire import FoundDog
from services.wire import unpack_images
from tests.support.api import api_under_test
from tests.support.fakes import FakeEncoder
from tests.support.http_stub import JsonHandler, serving
from tests.support.synthetic import jpeg_bytes

DOG = FoundDog((0.1, 0.2, 0.6, 0.9), 0.95)


class StubEncoder(JsonHandler):
    """``/encode`` as the fake encoder answers it, in JSON; the dogs only when asked."""

    asked: list[list[str]] = []  # each request's ``dogs`` query values
    fake = FakeEncoder()
    fake.dogs = [DOG]

    def do_POST(self):
        query = parse_qs(urlsplit(self.path).query)
        type(self).asked.append(query.get("dogs", []))
        images = unpack_images(self.rfile.read(int(self.headers["Content-Length"])), 64)
        model, results = self.fake.encode(
            [("x", data) for data in images], dogs=query.get("dogs") == ["1"]
        )
        self.send_json(
            {"model": model.to_dict(), "results": [r.to_dict() for r in results], "timings": {}}
        )


class StubClient(EncoderClient):
    """The real client, with the ``model`` the test fixtures read from a fake."""

    model = FakeEncoder().model


@pytest.fixture
def stub_url():
    StubEncoder.asked = []
    with serving(StubEncoder) as url:
        yield url


def test_ingest_and_library_adds_never_ask_for_dogs_an_upload_search_does(tmp_path, stub_url):
    api = api_under_test(tmp_path, per_breed=2, encoder=StubClient([stub_url]))
    ingested = len(StubEncoder.asked)
    assert ingested > 0 and StubEncoder.asked == [[]] * ingested  # ingest: no dogs asked

    added = api.client.post("/api/images", data={"image": (io.BytesIO(jpeg_bytes(77)), "a.jpg")})
    assert added.status_code == 201 and StubEncoder.asked[ingested:] == [[]]

    photo = api.files[0].path.read_bytes()
    body = api.client.post("/api/search", data={"image": (io.BytesIO(photo), "q.jpg")})
    assert StubEncoder.asked[-1] == ["1"]
    assert body.get_json()["query"]["dogs"] == [DOG.to_dict()]


def test_the_client_asks_for_dogs_only_when_told(stub_url):
    client = EncoderClient([stub_url])
    _, (plain,) = client.encode([("a.jpg", jpeg_bytes(1))])
    _, (located,) = client.encode([("a.jpg", jpeg_bytes(1))], dogs=True)
    assert StubEncoder.asked == [[], ["1"]]
    assert plain.dogs is None and located.dogs == [DOG]
