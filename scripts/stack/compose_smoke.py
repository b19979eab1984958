"""The production path, end to end, on whatever Docker engine ``DOCKER_HOST`` names.

    make compose-smoke DATASET=/path/to/stanford-dogs         # holds Images/ (and lists/)
    python -m scripts.stack.compose_smoke --dataset DIR [-f docker-compose.yml -f OVERRIDE]

Build, ``up --wait``, ingest the folder, search by upload, check that a write without the
write key is refused, add a photo through the API and delete a dataset photo (both with the
key), ingest again (it stays deleted), re-index (every photo is kept, the added one
included), evaluate (the job can write its report), scale the encoder to 2 and search again,
run a job (the encoder count stays 2), ``down -v``. Every check compares the exact set of
stored photo ids with the expected one. Prints one JSON object of timings and counts.

It runs as its own compose project (``dogsearch-smoke``) on free loopback ports, with MinIO
credentials and a write key of its own, made at random for each run, so a stack you run is
never touched, and removes that project with its volumes at the end (``--keep`` leaves it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from PIL import Image, ImageOps

from scripts.stack.local import REPO_ROOT, free_port
from services.dataset import content_id, iter_image_files

PROJECT = "dogsearch-smoke"
STRONG_AFTER_WRITE_S = 5  # the default of MILVUS_STRONG_AFTER_WRITE_S
AFTER_ADD_SAMPLES = 5  # adds, each searched at once: the median is what the report shows


class SmokeFailed(AssertionError):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SmokeFailed(what)


@dataclass
class Compose:
    files: list[str]
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    def __call__(self, *args: str, timed: str | None = None, timeout: float = 1800) -> str:
        command = ["docker", "compose", "-p", PROJECT]
        for file in self.files:
            command += ["-f", file]
        started = time.perf_counter()
        result = subprocess.run(
            [*command, *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if timed:
            self.timings[f"{timed}_s"] = round(time.perf_counter() - started, 1)
        if result.returncode != 0:
            raise SmokeFailed(f"`compose {' '.join(args)}` failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def job(self, *args: str, timed: str) -> dict:
        """Run a tools job; ingest's ``--json`` report when it prints one."""
        out = self("--profile", "tools", "run", "--rm", *args, timed=timed)
        reports = [json.loads(line) for line in out.splitlines() if line.startswith('{"ingest"')]
        return reports[-1]["ingest"] if reports else {}

    def count(self, service: str) -> int:
        return len(self("ps", "-q", service).split())


@dataclass
class Api:
    url: str
    write_key: str

    def auth(self) -> dict[str, str]:
        """The header every write sends (compose always requires the write key)."""
        return {"Authorization": f"Bearer {self.write_key}"}

    def stored_ids(self) -> set[str]:
        ids: set[str] = set()
        page = 1
        while True:
            body = self.get("/api/images", page=page, per_page=200)
            ids |= {image["id"] for image in body["images"]}
            if page >= body["pages"]:
                return ids
            page += 1

    def get(self, path: str, **params) -> dict:
        response = requests.get(self.url + path, params=params, timeout=60)
        check(response.ok, f"GET {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    def search(self, data: bytes) -> tuple[list[str], float]:
        found, seconds, _ = self.timed_search(data)
        return found, seconds

    def timed_search(self, data: bytes) -> tuple[list[str], float, dict]:
        """The ids found, the seconds the client waited, and the API's own timings."""
        started = time.perf_counter()
        response = requests.post(
            self.url + "/api/search", files={"image": ("q.jpg", data)}, data={"k": "5"}, timeout=60
        )
        check(response.ok, f"search: HTTP {response.status_code} {response.text[:300]}")
        answer = response.json()
        found = [r["id"] for r in answer["results"]]
        return found, time.perf_counter() - started, answer["timings"]


def mirrored(data: bytes) -> bytes:
    """A real photo that is not in the dataset: the mirror image of one that is."""
    out = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(data)).convert("RGB")).save(out, "JPEG", quality=92)
    return out.getvalue()


def searches_after_adds(api: Api, photos: list[Path], report: dict) -> list[tuple[str, bytes]]:
    """Add each photo's mirror image and search by it at once: it must come first (read your
    writes), and the medians say what that costs against the search at rest. One sample is
    noise: a read waits for Milvus's next time tick (200 ms apart), so where in the tick the
    add lands decides it."""
    added, waits, milvus_ms = [], [], []
    for photo in photos:
        data = mirrored(photo.read_bytes())
        response = requests.post(
            api.url + "/api/images",
            files={"image": ("mirrored.jpg", data)},
            headers=api.auth(),
            timeout=120,
        )
        check(
            response.status_code == 201, f"add: HTTP {response.status_code} {response.text[:300]}"
        )
        added_id = response.json()["results"][0]["id"]
        found, seconds, timings = api.timed_search(data)
        check(found[0] == added_id, "a search right after the add did not find the added photo")
        added.append((added_id, data))
        waits.append(1000 * seconds)
        milvus_ms.append(timings["milvus_ms"])
    report["search_after_add_ms"] = round(statistics.median(waits), 1)
    report["search_after_add_milvus_ms"] = round(statistics.median(milvus_ms), 1)
    report["search_after_add_over_at_rest"] = round(
        report["search_after_add_ms"] / report["search_p50_ms"], 2
    )
    return added


def wait_until_stored(api: Api, expected: set[str], what: str, timeout: float = 60) -> None:
    """Browsing reads a catalogue refreshed every SEARCH_API_CATALOG_TTL_S (15 s)."""
    deadline = time.monotonic() + timeout
    while (stored := api.stored_ids()) != expected:
        if time.monotonic() > deadline:
            extra, missing = sorted(stored - expected)[:5], sorted(expected - stored)[:5]
            raise SmokeFailed(f"{what}: unexpected {extra}, missing {missing}")
        time.sleep(2)


def search_timings(api: Api, photos: dict[str, Path], name: str, report: dict) -> None:
    """Search by upload with five stored photos: each must come first; the medians go in the
    report (the client's wait, and of it the encoder's and Milvus's share)."""
    waits, encodes, searches = [], [], []
    for image_id in sorted(photos)[:5]:
        found, seconds, timings = api.timed_search(photos[image_id].read_bytes())
        check(found[0] == image_id, f"search by upload: {image_id} was not its own first result")
        waits.append(1000 * seconds)
        encodes.append(timings["encode_ms"])
        searches.append(timings["milvus_ms"])
    report[f"{name}_p50_ms"] = round(statistics.median(waits), 1)
    report[f"{name}_encode_p50_ms"] = round(statistics.median(encodes), 1)
    report[f"{name}_milvus_p50_ms"] = round(statistics.median(searches), 1)


def library_checks(compose: Compose, api: Api, photos: dict[str, Path], report: dict) -> set[str]:
    """Search, add, delete, ingest again, re-index: the stored set is exact after each."""
    expected = set(photos)
    second = sorted(photos)[1]
    search_timings(api, photos, "search_after_ingest", report)
    # Searches wait for the last write for MILVUS_STRONG_AFTER_WRITE_S (5 s), then Bounded.
    time.sleep(STRONG_AFTER_WRITE_S + 1)
    search_timings(api, photos, "search", report)

    check(api.get("/api/stats")["writes"] == "key", "stats: writes do not need the key")
    refused = requests.delete(f"{api.url}/api/images/{second}", timeout=60)
    check(refused.status_code == 401, f"delete without the key: HTTP {refused.status_code}")
    added = searches_after_adds(
        api, [photos[i] for i in sorted(photos)[:AFTER_ADD_SAMPLES]], report
    )
    added_id, added_bytes = added[0]
    deleted = requests.delete(f"{api.url}/api/images/{second}", headers=api.auth(), timeout=60)
    check(deleted.status_code == 200, f"delete: HTTP {deleted.status_code}")
    expected = (expected | {image_id for image_id, _ in added}) - {second}
    wait_until_stored(api, expected, "after add and delete")

    again = compose.job("ingest", "--json", "--no-progress", timed="ingest_again")
    check(again.get("added") == 0 and again.get("deleted") == 1, f"ingest again: {again}")
    wait_until_stored(api, expected, "the deleted photo came back after ingest")

    reindexed = compose.job("ingest", "--reindex", "--json", "--no-progress", timed="reindex")
    check(reindexed.get("added") == len(expected), f"re-index: {reindexed}")
    wait_until_stored(api, expected, "after re-index")
    check(api.search(added_bytes)[0][0] == added_id, "the added photo is not searchable")
    check(second not in api.search(photos[second].read_bytes())[0], "a deleted photo was found")
    report["reindexed_photos"] = len(expected)
    return expected


def run(compose: Compose, api: Api, dataset: Path) -> dict:
    photos = {content_id(f.path.read_bytes()): f.path for f in iter_image_files(dataset / "Images")}
    report: dict = {"photos": len(photos)}
    compose("--profile", "tools", "build", timed="build")
    compose("up", "-d", "--wait", "--wait-timeout", "900", timed="up")
    ingested = compose.job("ingest", "--json", "--no-progress", timed="ingest")
    check(ingested.get("added") == len(photos), f"ingest: {ingested}")
    report["ingest_img_per_s"] = ingested.get("images_per_s")
    wait_until_stored(api, set(photos), "after ingest")
    expected = library_checks(compose, api, photos, report)

    compose.job("evaluate", "--per-breed", "2", "--no-plots", "--out", "reports/compose-smoke",
                timed="evaluate")  # fmt: skip
    compose.env["ENCODER_REPLICAS"] = "2"
    compose("up", "-d", "--wait", "--wait-timeout", "900", timed="scale_up")
    check(compose.count("encoder") == 2, "the encoder did not scale to 2")
    for image_id in sorted(expected & set(photos))[:5]:
        found, _ = api.search(photos[image_id].read_bytes())
        check(found[0] == image_id, "search after scaling the encoder")
    compose.job("ingest", "--json", "--no-progress", timed="job_after_scale")
    check(compose.count("encoder") == 2, "running a job reset the encoder count")
    wait_until_stored(api, expected, "at the end")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="holds Images/ (and lists/)")
    parser.add_argument("-f", "--file", action="append", help="compose files (default: ours)")
    parser.add_argument("--arch", default="efficientnet_lite0", help="ENCODER_ARCH for the run")
    parser.add_argument("--keep", action="store_true", help="leave the project running")
    args = parser.parse_args(argv)
    port, write_key = free_port(), secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "DATASET_DIR": str(args.dataset.resolve()),
        "SEARCH_API_BIND": "127.0.0.1",
        "SEARCH_API_PORT": str(port),
        # compose has no default secrets: fresh ones per run, never printed
        "MINIO_ACCESS_KEY": "smoke-" + secrets.token_hex(8),
        "MINIO_SECRET_KEY": secrets.token_urlsafe(32),
        "SEARCH_API_WRITE_KEY": write_key,
        "MILVUS_PORT": str(free_port()),
        "ENCODER_ARCH": args.arch,
        "ENCODER_REPLICAS": "1",
    }
    compose = Compose(args.file or ["docker-compose.yml"], env)
    started = time.perf_counter()
    try:
        report = run(compose, Api(f"http://127.0.0.1:{port}", write_key), args.dataset)
        ok = True
    except (SmokeFailed, requests.RequestException, subprocess.TimeoutExpired) as error:
        print(f"compose smoke FAILED: {error}", file=sys.stderr)
        print(compose("logs", "--tail", "40")[-6000:], file=sys.stderr)
        report, ok = {}, False
    finally:
        if not args.keep:
            compose("--profile", "tools", "down", "-v", "--remove-orphans", timed="down")
    versions = compose("version", "--short").strip()
    result = {"ok": ok, **report, **compose.timings, "compose": versions}
    result["total_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps({"compose_smoke": result}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
