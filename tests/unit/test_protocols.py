"""The fakes the unit tests run the API on keep to the Protocols the real classes satisfy.

mypy checks the same statically (``services/protocols.py`` and the end of
``tests/support/fakes.py``); this test says it at run time, with the method that drifted."""

from __future__ import annotations

import inspect

import pytest

from services.deleted import DeletedPhotos
from services.encoder_client import EncoderClient
from services.protocols import DeletedRecords, Encoder, PhotoStore
from services.settings import MilvusSettings
from services.vectorstore import VectorStore
from tests.support.fakes import FakeDeleted, FakeEncoder, FakeVectorStore

SETTINGS = MilvusSettings(uri="http://127.0.0.1:1")  # never connected: connections are lazy
# protocol, the real class, the fake, and a way to make each (for the data attributes)
PAIRS = [
    (PhotoStore, lambda: VectorStore(SETTINGS), FakeVectorStore),
    (Encoder, lambda: EncoderClient(["http://127.0.0.1:1"], 1.0), FakeEncoder),
    (DeletedRecords, lambda: DeletedPhotos(SETTINGS), FakeDeleted),
]


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def shape(signature: inspect.Signature) -> list[tuple[str, str, bool]]:
    """Parameter names, kinds and whether each has a default: what a caller relies on."""
    return [
        (p.name, p.kind.name, p.default is not inspect.Parameter.empty)
        for p in signature.parameters.values()
    ]


def drifted(protocol: type, cls: type) -> list[str]:
    """The protocol's methods that ``cls`` lacks or takes differently."""
    have = public_methods(cls)
    return [
        name
        for name, signature in public_methods(protocol).items()
        if name not in have or shape(have[name]) != shape(signature)
    ]


@pytest.mark.parametrize(
    "protocol, make_real, fake", PAIRS, ids=lambda p: getattr(p, "__name__", "")
)
def test_the_real_class_and_its_fake_take_each_call_as_the_protocol_says(protocol, make_real, fake):
    real = make_real()
    assert drifted(protocol, type(real)) == []
    assert drifted(protocol, fake) == []
    for name in protocol.__annotations__:  # data attributes, e.g. the store's collection
        assert hasattr(real, name) and hasattr(fake(), name), name


@pytest.mark.parametrize("protocol, _, fake", PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_a_fake_has_nothing_the_real_class_is_not_asked_for(protocol, _, fake):
    """Anything more would let the unit tests lean on what the product cannot do."""
    assert set(public_methods(fake)) <= set(public_methods(protocol))


def test_a_fake_that_drifts_is_named():
    class Drifted(FakeDeleted):
        def get(self, image_id, strong):  # a parameter the real one does not take
            return None

        def among(self, image_ids):  # renamed: a keyword caller breaks
            return set()

    assert drifted(DeletedRecords, Drifted) == ["among", "get"]
