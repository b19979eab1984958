"""Search options through the API: near-duplicates (list, hide), minimum similarity, and
search by URL with its refusals."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image

from scripts.jobs import ingest
from services.dataset import content_id, iter_image_files

pytestmark = [pytest.mark.integration, pytest.mark.milvus]


@pytest.fixture(scope="module")
def with_copy(stack):
    """The dataset plus a re-compressed, slightly smaller copy of its first photo."""
    assert ingest.main(stack.ingest_args("--no-progress")) == 0
    original = next(iter_image_files(stack.dataset_root)).path.read_bytes()
    image = Image.open(io.BytesIO(original))
    out = io.BytesIO()
    image.resize((image.width - 8, image.height - 6)).save(out, "JPEG", quality=70)
    copy = out.getvalue()
    added = requests.post(
        f"{stack.api_url}/api/images",
        files={"image": ("copy.jpg", copy)},
        data={"breed": "Chihuahua"},
        timeout=60,
    )
    assert added.status_code == 201, added.text
    yield stack, content_id(original), content_id(copy)
    requests.delete(f"{stack.api_url}/api/images/{content_id(copy)}", timeout=30)


def test_duplicates_lists_the_copy_with_its_original(with_copy):
    stack, original, copy = with_copy
    body = requests.get(f"{stack.api_url}/api/duplicates", timeout=60).json()
    groups = [{image["id"] for image in group["images"]} for group in body["groups"]]
    assert {original, copy} in groups
    assert body["compared"] == 31 and body["threshold"] == 0.95
    strict = requests.get(
        f"{stack.api_url}/api/duplicates", params={"threshold": 1.0}, timeout=60
    ).json()
    assert strict["groups"] == []
    for bad in ("0.2", "1.5", "high"):
        response = requests.get(
            f"{stack.api_url}/api/duplicates", params={"threshold": bad}, timeout=10
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_threshold"


def test_hide_duplicates_keeps_the_best_of_each_group(with_copy):
    stack, original, copy = with_copy
    url = f"{stack.api_url}/api/images/{original}/similar"
    plain = requests.get(url, params={"k": 5}, timeout=10).json()
    assert plain["results"][0]["id"] == copy  # the query itself is never a result
    hidden = requests.get(url, params={"k": 5, "hide_duplicates": "true"}, timeout=10).json()
    ids = [hit["id"] for hit in hidden["results"]]
    assert original not in ids and copy not in ids and len(ids) == 5  # a copy of the query
    assert hidden["hidden_duplicates"] >= 1
    bad = requests.get(url, params={"hide_duplicates": "maybe"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_hide_duplicates"


def test_min_similarity_hides_weak_matches(with_copy):
    stack, original, _ = with_copy
    url = f"{stack.api_url}/api/images/{original}/similar"
    everything = requests.get(url, params={"k": 30}, timeout=10).json()["results"]
    cut = everything[len(everything) // 2]["similarity"]
    strong = requests.get(url, params={"k": 30, "min_similarity": cut}, timeout=10).json()
    assert strong["results"] and all(hit["similarity"] >= cut for hit in strong["results"])
    assert len(strong["results"]) < len(everything)
    for bad in ("-0.1", "1.01", "nan", "most"):
        response = requests.get(url, params={"min_similarity": bad}, timeout=10)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_min_similarity"


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:1/dog.jpg",
        "http://localhost/dog.jpg",
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[::1]/",
        "http://10.0.0.1/dog.jpg",
        "file:///etc/passwd",
        "ftp://example.com/dog.jpg",
    ],
)
def test_search_by_url_refuses_non_public_targets(stack, target):
    form = requests.post(f"{stack.api_url}/api/search", data={"url": target}, timeout=30)
    assert form.status_code == 400 and form.json()["error"]["code"] == "url_not_allowed"
    as_json = requests.post(f"{stack.api_url}/api/search", json={"url": target}, timeout=30)
    assert as_json.status_code == 400 and as_json.json()["error"]["code"] == "url_not_allowed"


def test_search_a_drawn_region(with_copy):
    stack, original, _ = with_copy
    photo = next(iter_image_files(stack.dataset_root)).path.read_bytes()

    def search(box: str) -> requests.Response:
        return requests.post(
            f"{stack.api_url}/api/search",
            files={"image": ("q.jpg", photo)},
            data={"box": box, "k": 3},
            timeout=60,
        )

    whole = search("0,0,1,1")
    assert whole.status_code == 200 and whole.json()["results"][0]["id"] == original
    part = search("0.25,0.25,0.75,0.75").json()
    width, height = Image.open(io.BytesIO(photo)).size
    assert (part["query"]["width"], part["query"]["height"]) == (width // 2, height // 2)
    assert part["results"][0]["similarity"] < whole.json()["results"][0]["similarity"]
    for bad in ("0,0,2,1", "0.5,0.5,0.4,0.9", "0,0,1", "a,b,c,d", "nan,0,1,1", "0,0,0.001,0.001"):
        refused = search(bad)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_box", bad
