"""Soak test: many clients mixing real user actions against a running stack, errors counted.

    python -m scripts.bench.soak --api-url http://127.0.0.1:5000 --images data/stanford-dogs/Images
    python -m scripts.bench.soak --start --images DIR [--milvus server]   # its own stack

Each client (a locust user, ``Explore`` in :mod:`scripts.bench.locustfile`) loops over uploads
(photos from ``--images``), "more like this", breed pages and thumbnails, like a person
exploring, weighted 1 : 4 : 3 : 8. It prints one JSON object: requests/s, p50/p95/p99 per
endpoint, status counts, where locust's CSV and HTML report are, and, when it knows the
services' processes, their memory (RSS of each process tree) before and after, so growth over
the run shows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import requests

from scripts.bench.locust_run import run_locust
from scripts.jobs import ingest
from scripts.stack.local import LocalStack
from services.dataset import iter_image_files


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (gunicorn master plus workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def memory(pids: dict[str, int]) -> dict[str, int]:
    return {name: tree_rss_bytes(pid) for name, pid in pids.items()}


def plan(api_url: str) -> dict[str, list[str]]:
    """What the clients ask for: the catalogue's ids and breeds, read once from the API."""
    api_url = api_url.rstrip("/")
    listing = requests.get(f"{api_url}/api/images", params={"per_page": 200}, timeout=30)
    listing.raise_for_status()
    ids = [image["id"] for image in listing.json()["images"]]
    breeds = requests.get(f"{api_url}/api/breeds", timeout=30).json()["breeds"]
    if not ids:
        raise SystemExit("the index is empty: ingest some images first")
    return {"ids": ids, "breeds": [breed["name"] for breed in breeds]}


def soak(
    api_url: str,
    photos: list[bytes],
    *,
    clients: int,
    seconds: float,
    pids: dict[str, int] | None = None,
    report_dir: Path | None = None,
) -> dict:
    """Run the mix (locust's ``Explore`` users, :mod:`scripts.bench.locustfile`); ``errors``
    counts every answer >= 400 and every failed call. Locust's CSV and HTML report of the run
    stay in ``report_dir``.

    A short warm-up first fills the caches (thumbnails, catalogue, connections), so that memory
    growth measured over the run is growth, not the caches' first fill.
    """
    report_dir = Path(report_dir or tempfile.mkdtemp(prefix="soak-report-"))
    what = plan(api_url)
    warm_up = run_locust(
        "explore", api_url, what, clients=clients, seconds=min(5.0, seconds / 5),
        report_dir=report_dir / "warm-up", photos=photos,
    )  # fmt: skip
    before = memory(pids or {})
    result = run_locust(
        "explore", api_url, what, clients=clients, seconds=seconds, report_dir=report_dir,
        photos=photos,
    )  # fmt: skip
    after = memory(pids or {})
    report = {
        "clients": clients,
        **result,
        "warm_up_errors": warm_up["errors"],
        "warm_up_error_samples": warm_up["error_samples"],
        "report": str(report_dir / "explore.html"),
    }
    if pids:
        report["rss_mb"] = {
            name: {
                "before": round(before[name] / 2**20, 1),
                "after": round(after[name] / 2**20, 1),
                "growth": round((after[name] - before[name]) / 2**20, 1),
            }
            for name in pids
        }
    return report


def load_photos(images: Path | None, count: int = 40) -> list[bytes]:
    if images is None:
        return []
    files = list(iter_image_files(images))
    random.Random(1).shuffle(files)
    return [file.path.read_bytes() for file in files[:count]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", default="http://127.0.0.1:5000")
    parser.add_argument("--images", type=Path, help="photos to upload (and to index, --start)")
    parser.add_argument("--start", action="store_true", help="start a stack on loopback first")
    parser.add_argument("--arch", default="efficientnet_lite0", help="encoder, with --start")
    parser.add_argument("--milvus", choices=["lite", "server"], default="lite", help="with --start")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--report-dir", type=Path, help="where locust's CSV and HTML go")
    parser.add_argument("--pid", action="append", default=[], help="NAME=PID to watch the RSS of")
    args = parser.parse_args(argv)
    pids = {name: int(pid) for name, pid in (item.split("=", 1) for item in args.pid)}
    photos = load_photos(args.images)
    if not args.start:
        report = soak(
            args.api_url,
            photos,
            clients=args.clients,
            seconds=args.seconds,
            pids=pids,
            report_dir=args.report_dir,
        )
        print(json.dumps(report, indent=1))
        return 0 if report["errors"] + report["warm_up_errors"] == 0 else 1
    if args.images is None:
        parser.error("--start needs --images")
    stack = LocalStack(
        Path(tempfile.mkdtemp(prefix="soak-")),
        args.images.resolve(),
        encoder_env={"ENCODER_ARCH": args.arch},
        milvus_backend=args.milvus,
    )
    try:
        stack.start()
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the report alone
            if ingest.main(stack.ingest_args("--no-progress")) != 0:
                return 3
        time.sleep(1)
        pids = {name: process.process.pid for name, process in stack.processes.items()}
        report = soak(
            stack.api_url,
            photos,
            clients=args.clients,
            seconds=args.seconds,
            pids=pids,
            report_dir=args.report_dir,
        )
    finally:
        stack.stop()
    print(json.dumps(report, indent=1))
    return 0 if report["errors"] + report["warm_up_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
