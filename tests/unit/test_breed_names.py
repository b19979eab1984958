"""One spelling per breed everywhere: the official list's (``data/breeds.txt``), whether a
photo came from a Stanford folder, a plain folder in another case, or an upload; ``label``
is for display only."""

from __future__ import annotations

import csv
import io

import pytest

from services.dataset import BreedList, breed_label
from tests.support.api import api_under_test
from tests.support.js import call, needs_node
from tests.support.synthetic import jpeg_bytes

# Folder names as people make them: Stanford's, and plain ones in their own case.
FOLDERS = ("n02085620-Chihuahua", "Golden_Retriever", "BEAGLE", "japanese-spaniel")
OFFICIAL = {"Chihuahua", "golden retriever", "beagle", "Japanese spaniel"}


@pytest.fixture
def api(tmp_path):
    api = api_under_test(tmp_path, per_breed=1, breeds=FOLDERS)
    added = api.client.post(
        "/api/images", data={"image": (io.BytesIO(jpeg_bytes(31)), "a.jpg"), "breed": "Beagle"}
    )
    assert added.status_code == 201
    return api


def test_ingest_stores_the_official_spelling_of_a_listed_breed(api):
    body = api.client.get("/api/breeds").get_json()
    names = {breed["name"] for breed in body["breeds"]}
    assert names == OFFICIAL  # an uploaded beagle and the BEAGLE folder are one breed
    assert names <= set(body["known"]) == set(BreedList.load().names)
    for breed in body["breeds"]:
        assert breed["label"] == breed_label(breed["name"])
        assert body["known"][breed["id"]] == breed["name"]


@needs_node
def test_the_api_the_known_list_and_the_csv_export_spell_a_breed_alike(api):
    body = api.client.get("/api/breeds").get_json()
    images = api.client.get("/api/images?per_page=50").get_json()["images"]
    exported = call("export.js", "resultsAsCsv", images)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {row["breed"] for row in rows} == {b["name"] for b in body["breeds"]} == OFFICIAL
    assert {row["breed"] for row in rows} <= set(body["known"])
