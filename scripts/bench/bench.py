"""The benchmark: encoder, search and ingest, measured side by side in one run.

    python -m scripts.bench.bench                            # everything, product defaults
    python -m scripts.bench.bench --sections search --sizes 1000,20000
    python -m scripts.bench.bench --arch efficientnet_lite0 --weights imagenet --markdown b.md
    python -m scripts.bench.bench --sections search --milvus server   # the Milvus server binary
    python -m scripts.bench.bench --sections search --milvus-uri http://127.0.0.1:19530

It starts its own Milvus (Lite, or ``--milvus server``; or uses ``--milvus-uri``), encoder and
search API on loopback (like the tests), and prints one JSON object; ``--markdown`` also writes
the README's table. Ratios matter more than absolute times on shared machines, so each target is
reported as a ratio measured in the same run. Random weights time exactly like real ones (same
shapes, same arithmetic) and are the default so the benchmark runs anywhere; the vectors
themselves are never judged here.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
import torch

from encoder.model import CROP, RESIZE, load_encoder
from encoder.onnx_backend import OnnxEmbedder, default_cache_dir
from scripts.bench.bench_search import (
    bench_id,
    bench_index,
    clustered_vectors,
    exact_top_k,
    load_gallery,
)
from scripts.bench.loadgen import percentiles, time_calls
from scripts.bench.locust_run import run_locust
from scripts.bench.report import markdown, summarise
from scripts.bench.uploads import QUERY_SIZE, time_after_add, time_uploads
from scripts.jobs.ingester import Ingester
from scripts.stack.local import REPO_ROOT, LocalStack
from scripts.stack.milvus_server import PRODUCTION_CONFIG, parse_setting, server_settings
from services.dataset import iter_image_files
from services.encoder_client import EncoderClient
from services.encoder_wire import ModelInfo
from services.imaging import decode_image
from services.settings import MilvusSettings
from services.vectorstore import VectorStore
from tests.support.synthetic import image_bytes, make_image

PHONE_SIZE = (4032, 3024)  # a 12-megapixel phone photo


def rate(run, images: int, seconds: float) -> float:
    """Images/s of ``run`` (which handles ``images`` images), after one warm-up call."""
    run()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        run()
        done += images
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return round(done / (time.perf_counter() - started), 2)


def bench_bare(args) -> dict:
    """The ceiling: the model alone, in this process, on preprocessed tensors."""
    encoder = load_encoder(args.arch, args.weights, device=args.device)
    embeds = {"torch": encoder.embed}
    if encoder.device.type == "cpu":
        embeds["onnx"] = OnnxEmbedder(encoder, default_cache_dir()).embed
    rates: dict[str, dict[int, float]] = {name: {} for name in embeds}
    for size in args.batches:
        batch = torch.randn(size, 3, CROP, CROP)
        for name, embed in embeds.items():
            rates[name][size] = rate(lambda b=batch, e=embed: e(b), size, args.seconds)
            print(f"bare {name}, batch {size}: {rates[name][size]} img/s", file=sys.stderr)
    transform = encoder.transform
    preprocess = {}
    for name, size in (("stanford_500x375", QUERY_SIZE), ("phone_4032x3024", PHONE_SIZE)):
        data = image_bytes(make_image(7, size), "JPEG", quality=90)
        for mode, draft in (("full", None), ("draft", (RESIZE, RESIZE))):
            times = time_calls(
                lambda d=data, s=draft: transform(decode_image(d, draft_size=s).image), 20
            )
            preprocess[f"{name}_{mode}_ms"] = percentiles(times)["p50_ms"]
    info = {
        "arch": encoder.info.arch,
        "weights": encoder.info.weights,
        "dim": encoder.info.dim,
        "device": str(encoder.device),
        "amp": encoder.use_amp,
    }
    del encoder
    gc.collect()
    return {
        "model": info,
        "bare_images_per_s": rates["torch"],
        "bare_onnx_images_per_s": rates.get("onnx", {}),
        "decode_preprocess_p50": preprocess,
    }


def bench_service(stack: LocalStack, args, jpeg: bytes) -> dict:
    """Images/s of the encoder service over HTTP, with ``--in-flight`` requests at once."""
    service = {}
    for size in args.batches:
        files = [("image", (f"{n}.jpg", jpeg, "image/jpeg")) for n in range(size)]
        requests.post(f"{stack.encoder_url}/encode", files=files, timeout=600)  # warm-up
        load = run_locust(
            "encode",
            stack.encoder_url,
            {"batch": size},
            clients=args.in_flight,
            seconds=args.seconds,
            report_dir=args.workdir / "locust" / f"encode-{size}",
            photos=[jpeg],
        )
        ok = load["endpoints"].get("encode", {}).get("statuses", {}).get("200", 0)
        service[size] = round(ok * size / load["seconds"], 2) if load["seconds"] else 0.0
        print(f"encoder service, batch {size}: {service[size]} img/s", file=sys.stderr)
    return service


def milvus_settings(args) -> dict[str, object] | None:
    """The settings of the Milvus server this run starts (None: Lite, or one already running)."""
    if args.milvus != "server" or args.milvus_uri:
        return None
    return server_settings(PRODUCTION_CONFIG, [parse_setting(text) for text in args.milvus_set])


def serve_collection(stack: LocalStack, collection: str) -> None:
    """Restart the stack's search API on ``collection`` (the benchmark's gallery)."""
    if "search-api" in stack.processes:
        stack.processes["search-api"].stop()
    stack.api_env = {"MILVUS_COLLECTION": collection, "SEARCH_API_CATALOG_TTL_S": "600"}
    stack.start_api()


def time_similar(api_url: str, size: int, vectors: np.ndarray, queries: list[int]) -> dict:
    """ "More like this" end to end; its time in Milvus requests (``milvus_ms``: reading the
    stored vector and the search), the read alone (``fetch_ms``) and everything after it
    (``search_ms``, Milvus and the API's scoring); numpy brute force; and recall@10."""
    session = requests.Session()

    def similar(index: int) -> dict:
        url = f"{api_url}/api/images/{bench_id(size, index)}/similar"
        response = session.get(url, params={"k": 10}, timeout=30)
        response.raise_for_status()
        return response.json()

    for index in queries[:10]:  # warm: connections, collection load, caches
        similar(index)
    by_id, fetch, search, milvus, recalls = [], [], [], [], []
    for index in queries:
        started = time.perf_counter()
        body = similar(index)
        by_id.append(time.perf_counter() - started)
        fetch.append(body["timings"]["fetch_ms"] / 1000)
        search.append(body["timings"]["search_ms"] / 1000)
        milvus.append(body["timings"]["milvus_ms"] / 1000)
        found = {bench_index(hit["id"]) for hit in body["results"]}
        exact = set(exact_top_k(vectors, vectors[index], 11).tolist()) - {index}
        recalls.append(len(found & exact) / 10)
    brute = [
        time_calls(lambda i=index: exact_top_k(vectors, vectors[i], 10), 1)[0] for index in queries
    ]
    return {
        "similar": percentiles(by_id),
        "similar_milvus": percentiles(milvus),
        "similar_fetch": percentiles(fetch),
        "similar_search": percentiles(search),
        "brute_force_numpy": percentiles(brute),
        "recall_at_10": round(float(np.mean(recalls)), 4),
    }


def concurrent_similar(api_url: str, ids: list[str], args) -> dict:
    """``--clients`` closed-loop locust users asking "more like this" (its report in
    ``--workdir``/locust)."""
    load = run_locust(
        "similar",
        api_url,
        {"ids": ids},
        clients=args.clients,
        seconds=args.load_seconds,
        report_dir=args.workdir / "locust" / "similar",
    )
    return {"clients": args.clients, **load}


def bench_search_size(stack: LocalStack, args, size: int, model: ModelInfo, jpeg: bytes) -> dict:
    vectors = clustered_vectors(size, model.dim, seed=size)
    settings = MilvusSettings(
        uri=stack.milvus_uri, collection=f"bench_{size}", index_type=args.index
    )
    milvus = stack.processes.get("milvus")
    loading = load_gallery(
        settings,
        model,
        vectors,
        milvus_pid=milvus.process.pid if milvus else None,
        progress=not args.no_progress,
    )
    serve_collection(stack, settings.collection)
    rng = random.Random(size)
    queries = [rng.randrange(size) for _ in range(args.queries)]
    result = {
        "size": size,
        "dim": model.dim,
        "index": args.index,
        **loading,
        **time_similar(stack.api_url, size, vectors, queries),
        **time_uploads(stack.api_url, jpeg, args.upload_queries),
        **(time_after_add(stack.api_url, args.after_add) if args.after_add else {}),
    }
    if size == args.load_size and args.clients > 0:
        ids = [bench_id(size, index) for index in queries]
        result["concurrent_similar"] = concurrent_similar(stack.api_url, ids, args)
    print(
        f"search at {size}: similar p50 {result['similar']['p50_ms']} ms, upload p50 "
        f"{result['upload']['p50_ms']} ms, recall@10 {result['recall_at_10']}",
        file=sys.stderr,
    )
    return result


def bench_ingest(stack: LocalStack, args, workdir: Path, model: ModelInfo) -> dict:
    images = workdir / "ingest" / "Images"
    folder = images / "n02085620-Chihuahua"
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(args.ingest_images):
        path = folder / f"n02085620_{n + 1}.jpg"
        if not path.exists():
            make_image(50_000 + n, QUERY_SIZE).save(path, quality=90)
    store = VectorStore(MilvusSettings(uri=stack.milvus_uri, collection="bench_ingest"))
    store.drop()
    store.ensure_collection(model)
    client = EncoderClient([stack.encoder_url], timeout_s=600)
    ingester = Ingester(
        client, store, model, batch_size=args.ingest_batch, progress=not args.no_progress
    )
    report = ingester.run(list(iter_image_files(images)))
    assert report.added == args.ingest_images, report.to_dict()
    return {"images": report.added, "images_per_s": report.images_per_s, **report.to_dict()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="encoder,search,ingest")
    parser.add_argument("--arch", default="resnet152")
    parser.add_argument("--weights", default="random", help="random | imagenet | auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backend", default="auto", help="the service's: auto | torch | onnx")
    parser.add_argument("--batches", default="1,8,32", help="encoder batch sizes")
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput measurement")
    parser.add_argument("--in-flight", type=int, default=2, help="encoder requests at once")
    parser.add_argument("--sizes", default="1000,20000,200000", help="gallery sizes to search")
    parser.add_argument("--index", default="HNSW", help="Milvus index type")
    parser.add_argument(
        "--milvus",
        choices=["lite", "server"],
        default="lite",
        help="the Milvus to start: Milvus Lite or the Milvus server binary (as make up does)",
    )
    parser.add_argument(
        "--milvus-uri", help="search a Milvus that is already running (standalone) instead"
    )
    parser.add_argument(
        "--milvus-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Milvus server setting over milvus/user.yaml's, e.g. proxy.timeTickInterval=200",
    )
    parser.add_argument("--queries", type=int, default=100, help="'more like this' per size")
    parser.add_argument("--upload-queries", type=int, default=20, help="uploads per size")
    parser.add_argument(
        "--after-add", type=int, default=10, help="uploads right after an add, per size"
    )
    parser.add_argument(
        "--clients", type=int, default=20, help="concurrent clients (0: no load run)"
    )
    parser.add_argument("--load-size", type=int, default=20000, help="gallery for the load run")
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--ingest-images", type=int, default=128)
    parser.add_argument("--ingest-batch", type=int, default=32)
    parser.add_argument(
        "--workdir", type=Path, default=REPO_ROOT / "data" / "bench", help="Milvus data, kept"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.milvus_set and milvus_settings(args) is None:
        parser.error("--milvus-set changes the Milvus server this starts: --milvus server")
    args.batches = [int(size) for size in args.batches.split(",")]
    args.sizes = [int(size) for size in args.sizes.split(",") if size]
    sections = set(args.sections.split(","))
    args.workdir.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "environment": {
            "date": time.strftime("%Y-%m-%d"),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "arch": args.arch,
            "milvus_settings": milvus_settings(args),
            "weights": args.weights,
            "batches": args.batches,
            "in_flight": args.in_flight,
            "milvus": args.milvus_uri or f"{args.milvus} (started here)",
        }
    }
    jpeg = image_bytes(make_image(7, QUERY_SIZE), "JPEG", quality=90)
    if "encoder" in sections:
        report["encoder"] = bench_bare(args)
    stack = LocalStack(
        workdir=args.workdir,
        dataset_root=Path(tempfile.mkdtemp(prefix="bench-images-")),
        encoder_env={
            "ENCODER_ARCH": args.arch,
            "ENCODER_WEIGHTS": args.weights,
            "ENCODER_DEVICE": args.device,
            "ENCODER_BACKEND": args.backend,
            "ENCODER_MAX_BATCH": str(max(args.batches)),
        },
        external_milvus_uri=args.milvus_uri,
        milvus_backend=args.milvus,
        milvus_settings=args.milvus_set,
    )
    try:
        stack.start_milvus()
        stack.start_encoder()
        info = requests.get(f"{stack.encoder_url}/info", timeout=10).json()
        model = ModelInfo.from_dict(info["model"])
        report["environment"].update(
            device=info["device"],
            backend=info.get("backend", "torch"),
            arch=model.arch,
            weights=model.weights,
        )
        if "encoder" in sections:
            report["encoder"]["service_images_per_s"] = bench_service(stack, args, jpeg)
        if "search" in sections:
            report["search"] = [
                bench_search_size(stack, args, size, model, jpeg) for size in args.sizes
            ]
        if "ingest" in sections:
            report["ingest"] = bench_ingest(stack, args, args.workdir, model)
    finally:
        stack.stop()
    report["targets"] = summarise(report, args)
    print(json.dumps(report, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
