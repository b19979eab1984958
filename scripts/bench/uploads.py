"""Search by upload as a client waits for it: at rest, as the page asks (with the dogs found),
and right after an add (what read-your-writes costs). Part of :mod:`scripts.bench.bench`."""

from __future__ import annotations

import random
import time

import requests

from scripts.bench.loadgen import percentiles
from services.settings import MilvusSettings
from tests.support.synthetic import image_bytes, make_image

QUERY_SIZE = (500, 375)  # a typical Stanford Dogs photo
STRONG_AFTER_WRITE_S = MilvusSettings().strong_after_write_s


def upload(
    session: requests.Session, api_url: str, jpeg: bytes, k: int = 10, dogs: bool = False
) -> dict:
    """Search by upload; ``dogs``: also find each dog (the page asks, ~3x the encoding on a
    CPU), which the API's own cost against one forward pass leaves out."""
    response = session.post(
        f"{api_url}/api/search",
        files={"image": ("q.jpg", jpeg, "image/jpeg")},
        data={"k": k, "dogs": str(dogs).lower()},
    )
    response.raise_for_status()
    return response.json()


def time_uploads(api_url: str, jpeg: bytes, repeats: int) -> dict:
    """Search by upload: encoding and Milvus, end to end; then as the page asks, with dogs."""
    session = requests.Session()
    upload(session, api_url, jpeg)
    uploads, encode_ms, search_ms, milvus_ms = [], [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        body = upload(session, api_url, jpeg)
        uploads.append(time.perf_counter() - started)
        encode_ms.append(body["timings"]["encode_ms"] / 1000)
        search_ms.append(body["timings"]["search_ms"] / 1000)
        milvus_ms.append(body["timings"]["milvus_ms"] / 1000)
    with_dogs = []
    for _ in range(max(1, repeats // 2)):  # what the page waits for: the dogs found too
        started = time.perf_counter()
        upload(session, api_url, jpeg, dogs=True)
        with_dogs.append(time.perf_counter() - started)
    return {
        "upload": percentiles(uploads),
        "upload_encode": percentiles(encode_ms),
        "upload_search": percentiles(search_ms),
        "upload_milvus": percentiles(milvus_ms),
        "upload_with_dogs": percentiles(with_dogs),
    }


def time_after_add(api_url: str, repeats: int) -> dict:
    """Search by upload right after adding the same photo (new to the index: a random seed),
    which must find it first: what read-your-writes costs. The photos are deleted after, and
    the consistency window waited out, so the next measurements are at rest again."""
    session, waits, milvus_ms, added = requests.Session(), [], [], []
    seed = random.SystemRandom().randrange(1 << 30)
    for n in range(repeats):
        jpeg = image_bytes(make_image(seed + n, QUERY_SIZE), "JPEG", quality=90)
        response = session.post(f"{api_url}/api/images", files={"image": ("a.jpg", jpeg)})
        response.raise_for_status()
        added.append(response.json()["results"][0]["id"])
        started = time.perf_counter()
        body = upload(session, api_url, jpeg)
        waits.append(time.perf_counter() - started)
        milvus_ms.append(body["timings"]["milvus_ms"] / 1000)
        if body["results"][0]["id"] != added[-1]:
            raise AssertionError(f"a search right after adding {added[-1]} did not find it")
    session.post(f"{api_url}/api/images/delete", json={"ids": added}).raise_for_status()
    time.sleep(STRONG_AFTER_WRITE_S + 1)
    return {
        "upload_after_add": percentiles(waits),
        "upload_after_add_milvus": percentiles(milvus_ms),
    }
