"""The search API's answers through orjson say what Flask's own encoder said."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from dataclasses import dataclass

import numpy as np
import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from search_api.fast_json import OrjsonProvider
from tests.support.api import api_under_test


@dataclass
class Point:
    x: int
    label: str


ANSWER = {
    "results": [{"id": "b" * 64, "similarity": 0.91234, "same_breed": None, "near_copy": False}],
    "match": {"strength": "strong", "best_similarity": 1e-05},
    "breed": "Cão d'água português",  # not ASCII
    "by_number": {2: "b", 1: "a"},  # non-string keys become strings
    "when": datetime.datetime(2026, 12, 3, 15, 4, tzinfo=datetime.UTC),
    "day": datetime.date(2026, 12, 3),
    "point": Point(1, "p"),
    "price": decimal.Decimal("1.50"),
    "uuid": uuid.UUID(int=7),
    "score": np.float64(0.25),  # a float to json.dumps (a subclass), numpy to orjson
}


APP = Flask(__name__)  # providers hold their app weakly


def providers() -> tuple[OrjsonProvider, DefaultJSONProvider]:
    return OrjsonProvider(APP), DefaultJSONProvider(APP)


def test_an_answer_means_what_flask_s_encoder_said():
    fast, flask = providers()
    assert json.loads(fast.dumps(ANSWER)) == json.loads(flask.dumps(ANSWER))
    with APP.app_context():
        body = fast.response(ANSWER).get_data()
        assert json.loads(body) == json.loads(flask.response(ANSWER).get_data())
        assert body.endswith(b"\n") and b"\n" not in body[:-1]  # compact, one line


def test_keys_are_sorted_as_before():
    fast, flask = providers()
    answer = {"z": 1, "a": {"y": 2, "b": 3}}
    assert fast.dumps(answer) == flask.dumps(answer, separators=(",", ":"))


def test_what_neither_encoder_knows_is_still_an_error():
    fast, _ = providers()
    with pytest.raises(TypeError):
        fast.dumps({"what": object()})


def test_a_caller_asking_for_json_options_gets_them():
    fast, _ = providers()
    assert fast.dumps({"a": 1}, indent=2) == '{\n  "a": 1\n}'


def test_the_api_answers_through_it(tmp_path):
    api = api_under_test(tmp_path, per_breed=2)
    assert isinstance(api.app.json, OrjsonProvider)
    photo = api.id_of(api.files[0])
    answer = api.client.get(f"/api/images/{photo}/similar?k=3")
    assert answer.status_code == 200 and len(answer.get_json()["results"]) == 3
    assert answer.get_data().endswith(b"\n") and answer.mimetype == "application/json"
    missing = api.client.get(f"/api/images/{'0' * 64}/similar")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
