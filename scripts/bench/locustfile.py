"""The load of the benchmark and the soak, as locust users (run by :mod:`scripts.bench.locust_run`).

Each user is a closed loop (``wait_time`` zero: the next request leaves when the previous one is
answered), so requests/s is what the system sustains at that many clients. What to send comes
from a JSON plan named by ``DOGSEARCH_LOAD_PLAN``; the status of every answer is counted and
written to ``DOGSEARCH_LOAD_STATUSES`` when locust stops (its CSV has failures, not statuses).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

PLAN = json.loads(Path(os.environ["DOGSEARCH_LOAD_PLAN"]).read_text())
PHOTOS = [Path(path).read_bytes() for path in PLAN.get("photos", [])]
STATUSES: dict[str, Counter] = defaultdict(Counter)
TIMES_MS: dict[str, list[float]] = defaultdict(list)
SAMPLES: list[str] = []
STARTED: list[float] = []


@events.test_start.add_listener
def started(**_kwargs) -> None:
    STARTED.append(time.monotonic())


@events.request.add_listener
def count_status(name, response, exception, response_time, **_kwargs) -> None:
    TIMES_MS[name].append(response_time)
    code = getattr(response, "status_code", 0) or 0
    status = str(code) if code else type(exception).__name__
    STATUSES[name][status] += 1
    if (exception is not None or code >= 400) and len(SAMPLES) < 50:
        text = getattr(response, "text", None) or str(exception)
        SAMPLES.append(f"{name} {status}: {text[:200]}")


@events.quitting.add_listener
def write_statuses(**_kwargs) -> None:
    path = os.environ.get("DOGSEARCH_LOAD_STATUSES")
    if path:
        seconds = time.monotonic() - STARTED[0] if STARTED else 0.0
        counted = {"statuses": STATUSES, "times_ms": TIMES_MS, "samples": SAMPLES}
        Path(path).write_text(json.dumps({**counted, "seconds": seconds}))


class Similar(FastHttpUser):
    """ "More like this" on the plan's ids, the benchmark's concurrent load."""

    wait_time = constant(0)

    @task
    def similar(self) -> None:
        image_id = random.choice(PLAN["ids"])
        self.client.get(f"/api/images/{image_id}/similar?k=10", name="similar")


class Encode(FastHttpUser):
    """The encoder service: one request of ``batch`` copies of the plan's first photo."""

    wait_time = constant(0)

    @task
    def encode(self) -> None:
        files = [("image", (f"{n}.jpg", PHOTOS[0], "image/jpeg")) for n in range(PLAN["batch"])]
        body, content_type = _multipart(files)
        self.client.post("/encode", data=body, headers={"Content-Type": content_type},
                         name="encode")  # fmt: skip


class Explore(FastHttpUser):
    """A person exploring: uploads, "more like this", breed pages and thumbnails (the soak)."""

    wait_time = constant(0)

    @task(1)
    def upload(self) -> None:
        if not PHOTOS:
            return self.similar()
        body, content_type = _multipart(
            [("image", ("photo.jpg", random.choice(PHOTOS), "image/jpeg"))], k="12"
        )
        self.client.post("/api/search", data=body, headers={"Content-Type": content_type},
                         name="upload")  # fmt: skip
        return None

    @task(4)
    def similar(self) -> None:
        self.client.get(f"/api/images/{random.choice(PLAN['ids'])}/similar?k=12", name="similar")

    @task(3)
    def breed_page(self) -> None:
        params = {"breed": random.choice(PLAN["breeds"]), "page": 1, "per_page": 48}
        self.client.get("/api/images", params=params, name="breed_page")

    @task(8)
    def thumbnail(self) -> None:
        self.client.get(f"/thumbs/{random.choice(PLAN['ids'])}", name="thumbnail")


def _multipart(files: list[tuple[str, tuple[str, bytes, str]]], **fields: str) -> tuple[bytes, str]:
    """A multipart/form-data body (FastHttpUser has no ``files=``)."""
    boundary = f"dogsearch{random.getrandbits(64):x}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for field, (filename, data, kind) in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
