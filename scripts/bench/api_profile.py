"""Where the search API's own time goes: "more like this" at 20k on a real Milvus, profiled with
py-spy while clients load it, and the gunicorn worker and thread counts swept.

    python -m scripts.bench.api_profile --milvus server --size 20000 --seconds 10
    python -m scripts.bench.api_profile --milvus server --sweep 1x8,2x8,3x4,4x4 --no-profile

py-spy, not cProfile: it samples the gunicorn workers from outside (no code change, every
thread, including gRPC's and the thread pool's), at a cost the workers do not feel, while
cProfile instruments only the thread that enables it and slows each Python call several-fold,
which would inflate exactly the per-call overheads being hunted. Needs ptrace on the workers
(the same user; in a container, ``SYS_PTRACE``).

Prints one JSON object: for each ``WORKERSxTHREADS`` the searches/s of ``--clients`` closed-loop
clients, their p50/p95 and errors, and ``--one-client`` requests one at a time (end to end
against the answer's ``milvus_ms``, as the target ``similar_p50_over_milvus_at_20k``); with
profiling, the functions that hold the most samples (inclusive and own), out of every sample of
the request threads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

from scripts.bench.bench_search import (
    bench_id,
    clustered_vectors,
    group_cpu_seconds,
    load_gallery,
)
from scripts.bench.loadgen import percentiles
from scripts.bench.locust_run import run_locust
from scripts.stack import local
from scripts.stack.local import LocalStack
from services.encoder_wire import ModelInfo
from services.settings import MilvusSettings
from services.vectorstore import VectorStore

MODEL = ModelInfo("bench", 2168, "f" * 16, "random", appearance_dims=2048)


def collapsed_top(path: Path, top: int) -> dict:
    """The ``top`` functions by inclusive and by own samples, from py-spy's collapsed stacks,
    as shares of the samples of threads that were answering a request (idle waits left out)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "handle_request" not in stack:  # gunicorn's accept loop, gRPC pollers, idle pools
            continue
        frames = [_frame(frame) for frame in stack.split(";")]
        samples = int(count)
        total += samples
        for frame in dict.fromkeys(frames):  # each once, in a fixed order (ties rank alike)
            inclusive[frame] += samples
        own[frames[-1]] += samples

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(n / total, 3)) for name, n in counter.most_common(top)]

    return {"samples": total, "inclusive": shares(inclusive), "own": shares(own)}


def _frame(frame: str) -> str:
    """``function file.py`` from py-spy's ``function (path/file.py:line)``."""
    function, _, where = frame.partition(" (")
    return f"{function} {where.rsplit(':', 1)[0].rsplit('/', 1)[-1]}" if where else function


def serve(stack: LocalStack, collection: str, shape: str, base: Path | None) -> None:
    """The search API as ``[base/]WORKERSxTHREADS``: ``base/`` runs the code of the checkout
    ``base`` (the same measurement of the code before a change, in the same run)."""
    if "search-api" in stack.processes:
        stack.processes["search-api"].stop()
    code, _, counts = shape.rpartition("/")
    workers, threads = counts.split("x")
    stack.api_env = {
        "MILVUS_COLLECTION": collection,
        "SEARCH_API_CATALOG_TTL_S": "600",
        "SEARCH_API_WORKERS": workers,
        "SEARCH_API_THREADS": threads,
    }
    if not code:
        stack.start_api()
        return
    if base is None:
        raise SystemExit(f"{shape}: give the checkout to compare with --base")
    stack.api_env["PYTHONPATH"] = f"{base}{os.pathsep}{base / 'search-api'}"
    # Started in the base checkout too: gunicorn puts its working directory first on sys.path
    # (and its config imports ``services``), so from here "base" ran this checkout's services/.
    here, local.REPO_ROOT = local.REPO_ROOT, base.resolve()
    try:
        stack.start_api()
    finally:
        local.REPO_ROOT = here


def load(stack: LocalStack, ids: list[str], clients: int, seconds: float) -> dict:
    """``clients`` closed-loop clients for ``seconds``, and the CPU milliseconds the search
    API (master and workers) and Milvus spent per answer meanwhile: on a shared machine the
    CPU an answer costs moves far less with the neighbours' load than its wall time does."""
    plan = {"ids": ids}
    run_locust("similar", stack.api_url, plan, clients=clients, seconds=2)  # warm: caches
    groups = {name: stack.processes[name].process.pid for name in ("search-api", "milvus")
              if name in stack.processes}  # fmt: skip
    before = {name: group_cpu_seconds(pid) for name, pid in groups.items()}
    result = run_locust("similar", stack.api_url, plan, clients=clients, seconds=seconds)
    answers = result["requests"]
    summary = _summary(result)
    summary["code"] = os.readlink(f"/proc/{groups['search-api']}/cwd")  # which checkout ran
    for name, pid in groups.items():
        used = group_cpu_seconds(pid) - before[name]
        summary[f"{name}_cpu_ms_per_answer"] = round(1000 * used / max(answers, 1), 2)
    return summary


def one_client(stack: LocalStack, ids: list[str]) -> dict:
    """ "More like this" one request at a time, as ``bench.py`` times it for the target
    ``similar_p50_over_milvus_at_20k``: end to end, its time in Milvus requests (``milvus_ms``;
    a checkout from before it was in the answer falls back to ``search_ms``), ``search_ms``
    and ``fetch_ms``, and the ratio of the p50s."""
    session = requests.Session()
    total, search, fetch, milvus = [], [], [], []
    measured_by = "milvus_ms"
    for image_id in ids:
        started = time.perf_counter()
        answer = session.get(f"{stack.api_url}/api/images/{image_id}/similar?k=10", timeout=30)
        total.append(time.perf_counter() - started)
        answer.raise_for_status()
        timings = answer.json()["timings"]
        search.append(timings["search_ms"] / 1000)
        fetch.append(timings["fetch_ms"] / 1000)
        milvus.append(timings.get("milvus_ms", timings["search_ms"]) / 1000)
        measured_by = "milvus_ms" if "milvus_ms" in timings else "search_ms"
    out = {
        "milvus_share": measured_by,  # an older checkout's answers have no milvus_ms
        "similar": percentiles(total),
        "similar_milvus": percentiles(milvus),
        "similar_search": percentiles(search),
        "similar_fetch": percentiles(fetch),
    }
    out["similar_p50_over_milvus"] = round(
        out["similar"]["p50_ms"] / out["similar_milvus"]["p50_ms"], 2
    )
    return out


def _summary(result: dict) -> dict:
    similar = result["endpoints"].get("similar", {})
    return {
        "requests_per_s": result["requests_per_s"],
        "requests": result["requests"],
        "errors": result["errors"],
        "p50_ms": similar.get("p50_ms"),
        "p95_ms": similar.get("p95_ms"),
    }


def profile(stack: LocalStack, ids: list[str], args, out: Path) -> dict:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    recorder = subprocess.Popen(
        [pyspy, "record", "--pid", str(stack.processes["search-api"].process.pid),
         "--subprocesses", "--format", "raw", "--rate", "200", "--duration",
         str(int(args.seconds)), "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(1)
    measured = load(stack, ids, args.clients, args.seconds)
    recorder.wait(timeout=args.seconds + 60)
    if recorder.returncode != 0 or not out.exists():
        return {"error": recorder.stderr.read().decode()[-500:] if recorder.stderr else "?"}
    return {"under_profile": measured, **collapsed_top(out, args.top)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--milvus", choices=["lite", "server"], default="server")
    parser.add_argument("--milvus-uri", help="a Milvus already running, instead of starting one")
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--sweep", default="2x8", help="[base/]WORKERSxTHREADS, comma-separated (base: --base)"
    )
    parser.add_argument("--base", type=Path, help="a checkout to compare with (base/2x8)")
    parser.add_argument("--no-profile", action="store_true", help="only the sweep")
    parser.add_argument(
        "--one-client", type=int, default=100, help="sequential requests per shape (0: none)"
    )
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "api-prof")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    stack = LocalStack(
        args.workdir,
        args.workdir / "images",
        milvus_backend=args.milvus,
        external_milvus_uri=args.milvus_uri,
    )
    report: dict = {"date": time.strftime("%Y-%m-%d"), "size": args.size, "clients": args.clients}
    try:
        stack.start_milvus()
        # The benchmark's gallery when its workdir is given: reused, not built again.
        settings = MilvusSettings(uri=stack.milvus_uri, collection=f"bench_{args.size}")
        model = VectorStore(settings).model() or MODEL
        vectors = clustered_vectors(args.size, model.dim, seed=args.size)
        milvus = stack.processes["milvus"].process.pid if "milvus" in stack.processes else None
        report["gallery"] = load_gallery(settings, model, vectors, milvus_pid=milvus)
        ids = [bench_id(args.size, index) for index in range(0, args.size, args.size // 200)]
        report["sweep"] = {}
        for shape in args.sweep.split(","):
            serve(stack, settings.collection, shape, args.base)
            rounds = sum(key.split(" ")[0] == shape for key in report["sweep"])
            key = f"{shape} round {rounds + 1}" if rounds else shape  # each round kept
            report["sweep"][key] = load(stack, ids, args.clients, args.seconds)
            if args.one_client:
                report["sweep"][key]["one_client"] = one_client(stack, ids[: args.one_client])
            print(f"{key}: {report['sweep'][key]}", file=sys.stderr)
        if not args.no_profile:
            report["profile"] = profile(stack, ids, args, args.workdir / "similar.txt")
    finally:
        stack.stop()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
