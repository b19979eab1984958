"""Retrieval quality on real Stanford Dogs photos with the offline backbone, through the services.

Uses ../shared/data (6 breeds, official split); skipped when it is absent. The gallery is the
official train split of those breeds (600 photos), the queries their test split (460).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from scripts.jobs import ingest
from scripts.training import evaluate
from scripts.training.metrics import summarise
from services.dataset import content_id, files_in_split, iter_image_files, load_split
from services.encoder_client import EncoderClient
from tests.support.stack import make_stack, store_of
from tests.support.synthetic import image_bytes

pytestmark = [pytest.mark.integration, pytest.mark.milvus, pytest.mark.realdata]


@pytest.fixture(scope="module")
def real(tmp_path_factory, stanford_sample: Path):
    stack = make_stack(
        tmp_path_factory.mktemp("real"),
        stanford_sample / "Images",
        encoder_env={"ENCODER_ARCH": "efficientnet_lite0"},
    )
    with stack:
        assert ingest.main(stack.ingest_args("--split", "train", "--no-progress")) == 0
        encoder = EncoderClient([stack.encoder_url], timeout_s=120)
        store = store_of(stack)
        split = load_split(stanford_sample / "lists")
        queries = files_in_split(stack.dataset_root, split, "test")
        vectors = encode(encoder, [f.path.read_bytes() for f in queries])
        yield stack, encoder, store, queries, vectors


def encode(encoder: EncoderClient, files: list[bytes]) -> np.ndarray:
    out = []
    for start in range(0, len(files), 32):
        _, results = encoder.encode(
            [(f"{i}.jpg", data) for i, data in enumerate(files[start : start + 32])]
        )
        out.extend(result.vector for result in results)
    return np.stack(out)


@pytest.fixture(scope="module")
def through_milvus(real) -> dict:
    """Metrics of the test queries searched through Milvus (the product's search path)."""
    _, _, store, queries, vectors = real
    rankings = [[hit.photo.breed for hit in store.search(v, 10)] for v in vectors]
    gallery = [row.breed for row in store.all_rows()]
    assert len(gallery) == 600 and len(queries) == 460
    return summarise(rankings, [q.breed for q in queries], gallery, k=10)


def test_precision_and_map_by_breed(through_milvus):
    """Measured here: P@1 0.959, mAP@10 0.963, P@10 0.971 (460 queries, 600 gallery photos;
    with the pooled features alone it was P@1 0.935, mAP@10 0.891)."""
    result = through_milvus
    print(result)  # shown with pytest -s
    assert result["p@1"] >= 0.93
    assert result["map@10"] >= 0.93


def test_evaluate_script_reports_the_same_precision(
    real, through_milvus, stanford_sample: Path, tmp_path
):
    """evaluate.py (exact ranking, its own encoding pass) agrees with search through Milvus."""
    stack = real[0]
    argv = [
        str(stanford_sample / "Images"),
        "--lists",
        str(stanford_sample / "lists"),
        "--encoder-url",
        stack.encoder_url,
        "--out",
        str(tmp_path),
        "--no-plots",
    ]
    assert evaluate.main(argv) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    (metrics,) = [model["metrics"] for model in report["models"].values()]
    assert metrics["queries"] == through_milvus["queries"] == 460
    assert metrics["p@1"] == pytest.approx(through_milvus["p@1"])
    assert metrics["map@10"] == pytest.approx(through_milvus["map@10"], abs=1e-3)


def variants(data: bytes) -> dict[str, bytes]:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned, displayed upright after rotating 90° counter-clockwise
    smaller = image.resize((int(image.width * 0.7), int(image.height * 0.7)))
    return {
        "jpeg60": image_bytes(image, "JPEG", quality=60),
        "resized70": image_bytes(smaller, "JPEG"),
        "exif_rotated": image_bytes(
            image.transpose(Image.Transpose.ROTATE_270), "JPEG", exif=exif.tobytes()
        ),
    }


def test_a_reencoded_copy_of_an_indexed_photo_finds_it_first(real, stanford_sample: Path):
    """Search with a re-saved, resized or EXIF-rotated copy of an indexed photo: the photo
    comes first, marked a near-copy, through the search API (the breed part of a copy's vector
    can swing; the near-copy lookup is what keeps this true)."""
    stack, _, store, _, _ = real
    model = store.model()
    gallery = files_in_split(stack.dataset_root, load_split(stanford_sample / "lists"), "train")
    checked = 0
    for photo in gallery[::30]:  # 20 photos, all breeds
        photo_id = content_id(photo.path.read_bytes())
        (stored,) = store.get([photo_id], with_vectors=True)
        others = store.search(
            model.look_query(stored.vector), 1, exclude_id=photo_id, with_vectors=True
        )
        look = float(model.appearance(stored.vector) @ model.appearance(others[0].photo.vector))
        if look > 0.95:
            # Stanford Dogs has burst shots of one dog (kuvasz_4392 and kuvasz_3526: cosine
            # 0.988); a copy of one may be closer to the other, so those are left out.
            continue
        checked += 1
        for name, copy in variants(photo.path.read_bytes()).items():
            response = requests.post(
                f"{stack.api_url}/api/search",
                files={"image": (f"{name}.jpg", copy)},
                data={"k": "3"},
                timeout=60,
            )
            first = response.json()["results"][0]
            assert first["id"] == photo_id, (photo.relative_path, name)
            assert first["near_copy"] is True, (photo.relative_path, name)
    assert checked >= 15


def test_cats_stay_out_of_dog_matches(real, stanford_sample: Path):
    """With 40 cat photos in the index, a cat is in the top 10 for at most 2.5 % of dog
    queries, and above every photo of the query's breed for at most 1 %. (Not never: the
    breed part of the vector pulls a photo toward the breed the model takes it for, and a cat
    the model finds a little dog-like can be closer than a breed the model missed; on the
    120-breed dev set 0.6 % of queries have a cat in their top 10.)"""
    stack, _, store, queries, vectors = real
    distractors = stanford_sample.parent / "distractors"
    if not (distractors / "cats").is_dir():
        pytest.skip("no cat photos in ../shared/data/distractors")
    args = stack.ingest_args("--no-progress", root=distractors)
    cats = [content_id(f.path.read_bytes()) for f in iter_image_files(distractors)]
    assert ingest.main(args) == 0
    try:
        assert store.existing_ids(cats) == set(cats)
        check_cats_stay_out(store, queries, vectors)
    finally:
        store.delete(cats)  # the other tests' gallery is the train split alone


def check_cats_stay_out(store, queries, vectors) -> None:
    """Measured here: a cat in the top 10 for 7 of 460 queries (1.5 %; with 100 photos per
    breed the tenth place is already another breed), above every photo of the query's breed
    for 3 (a golden retriever photo taken for a Maltese, a Maltese photo taken for a wheaten
    terrier, which this index lacks, ...)."""
    with_cat_in_top10 = cat_first = 0
    for query, vector in zip(queries, vectors, strict=True):
        breeds = [hit.photo.breed for hit in store.search(vector, 40)]
        with_cat_in_top10 += "cats" in breeds[:10]
        first_dog = breeds.index(query.breed) if query.breed in breeds else len(breeds)
        cat_first += "cats" in breeds[:first_dog]
    print({"cat_in_top10": with_cat_in_top10, "cat_above_breed": cat_first})
    assert with_cat_in_top10 <= 0.025 * len(queries)
    assert cat_first <= 0.01 * len(queries)


def test_cats_are_told_apart_from_dogs(real, stanford_sample: Path):
    """The dog score on real photos: nearly every dog query is a dog, most cats are not (on the
    120-breed dev set 6 of 40 cats passed, kittens in groups and black cats mostly), and a
    search with a cat says so in its answer."""
    stack, encoder, _, queries, _ = real
    cats_folder = stanford_sample.parent / "distractors" / "cats"
    if not cats_folder.is_dir():
        pytest.skip("no cat photos in ../shared/data/distractors")
    cat_photos = [path.read_bytes() for path in sorted(cats_folder.glob("*.jpg"))]
    assert cat_photos
    dog_photos = [f.path.read_bytes() for f in queries[::10]]
    model, cats = encoder.encode([(f"{i}.jpg", data) for i, data in enumerate(cat_photos)])
    _, dogs = encoder.encode([(f"{i}.jpg", data) for i, data in enumerate(dog_photos[:64])])
    threshold = model.dog_threshold
    cats_taken_for_dogs = sum(result.dog_score >= threshold for result in cats)
    dogs_taken_for_dogs = sum(result.dog_score >= threshold for result in dogs)
    print(
        {
            "cats": len(cats),
            "cats_as_dogs": cats_taken_for_dogs,
            "dogs": len(dogs),
            "dogs_as_dogs": dogs_taken_for_dogs,
        }
    )
    assert cats_taken_for_dogs <= 0.05 * len(cats)  # 0.8 % of 514 held-out cats (README)
    assert dogs_taken_for_dogs >= 0.97 * len(dogs)

    least_doglike = min(range(len(cats)), key=lambda i: cats[i].dog_score)
    answer = requests.post(
        stack.api_url + "/api/search",
        files={"image": ("cat.jpg", cat_photos[least_doglike])},
        timeout=60,
    ).json()
    assert answer["query"]["dog"]["is_dog"] is False
    assert answer["query"]["dog"]["score"] < answer["query"]["dog"]["threshold"]
    assert answer["match"]["strength"] != "strong"
