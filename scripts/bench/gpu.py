"""The GPU path, measured in one run: bare forward, decode, the service over HTTP, ingest.

    python -m scripts.bench.gpu                                  # the configured arch, CUDA if any
    python -m scripts.bench.gpu --photos 256 --seconds 5 --batches 1,8,32,64
    python -m scripts.bench.gpu --sections bare,service --arch efficientnet_lite0

Photos come from ``--images`` (default ``../shared/data/stanford-dogs-sample/Images``, else
synthetic 500 x 375 JPEGs), at most ``--photos`` of them. Prints one JSON object:

- ``bare``: images/s of the model alone on preprocessed tensors, per batch (torch; on the CPU
  also ONNX Runtime, the CPU default);
- ``decode``: images/s turning the photos into model input, the tensor path (nvJPEG on CUDA)
  against the Pillow path, 64 at a time in this thread;
- ``service``: the encoder under gunicorn over HTTP, per batch, with ``--in-flight`` clients,
  in the binary wire and in multipart + JSON, and its ratio to the best bare rate of the
  service's backend at that batch;
- ``ingest``: ``Ingester`` of the photos into Milvus Lite (started here) through that encoder,
  images/s and its ratio to the service's rate at the ingest batch.

Random weights time like real ones and are the default, so it runs anywhere; bounded by
``--photos`` and ``--seconds`` per measurement.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests
import torch

from encoder.model import CROP, RESIZE, load_encoder
from encoder.onnx_backend import OnnxEmbedder, default_cache_dir
from encoder.preprocess import TensorPreprocessor
from scripts.bench.bench import rate
from scripts.jobs.ingester import Ingester
from scripts.stack.local import REPO_ROOT, LocalStack
from services.dataset import ImageFile, iter_image_files
from services.encoder_client import EncoderClient
from services.encoder_wire import ModelInfo
from services.imaging import decode_image
from services.settings import MilvusSettings
from services.vectorstore import VectorStore
from services.wire import IMAGES_TYPE, VECTORS_TYPE, pack_images
from tests.support.synthetic import make_dataset

SAMPLE = REPO_ROOT.parent / "shared" / "data" / "stanford-dogs-sample" / "Images"


def photos(args) -> list[ImageFile]:
    root = args.images
    if not root.is_dir():
        root = make_dataset(Path(tempfile.mkdtemp(prefix="bench-gpu-")), per_breed=args.photos)
    return list(iter_image_files(root))[: args.photos]


def bench_bare(args, encoder) -> dict:
    embeds = {"torch": encoder.embed}
    if encoder.device.type == "cpu":
        embeds["onnx"] = OnnxEmbedder(encoder, default_cache_dir(), args.threads).embed
    rates: dict[str, dict[int, float]] = {name: {} for name in embeds}
    for size in args.batches:
        batch = torch.randn(size, 3, CROP, CROP, device=encoder.device)
        for name, embed in embeds.items():
            rates[name][size] = rate(lambda b=batch, e=embed: e(b), size, args.seconds)
            print(f"bare {name}, batch {size}: {rates[name][size]} img/s", file=sys.stderr)
    return rates


def bench_decode(args, encoder, files: list[bytes]) -> dict:
    def pillow(data: bytes):
        decoded = decode_image(data, draft_size=(RESIZE, RESIZE))
        return encoder.transform(decoded.image), decoded.width, decoded.height

    tensors = TensorPreprocessor(
        encoder.backbone, encoder.device, pillow, max_bytes=2**25, max_pixels=40_000_000
    )
    chunk = files[:64]
    paths = {
        "tensor": lambda: tensors(chunk),
        "pillow": lambda: [pillow(data) for data in chunk],
    }
    out = {name: rate(run, len(chunk), args.seconds) for name, run in paths.items()}
    print(f"decode + preprocess: {out} img/s", file=sys.stderr)
    return out


def closed_loop(post: Callable[[requests.Session], requests.Response], args) -> float:
    """Requests/s answered 200 by ``--in-flight`` clients posting back to back."""
    answered, lock = [0], threading.Lock()
    deadline = time.monotonic() + args.seconds

    def client() -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                ok = post(session).status_code == 200
                with lock:
                    answered[0] += ok

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(args.in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered[0] / (time.monotonic() - started)


def bench_service(args, url: str, files: list[bytes]) -> dict:
    """Images/s over HTTP per batch, binary wire and multipart + JSON."""
    out: dict[str, dict[int, float]] = {"binary": {}, "json": {}}
    for size in args.batches:
        batch = (files * (size // len(files) + 1))[:size]
        body = pack_images(batch)
        multipart = [("image", (f"{n}.jpg", data, "image/jpeg")) for n, data in enumerate(batch)]

        def binary(session: requests.Session, body=body):
            headers = {"Content-Type": IMAGES_TYPE, "Accept": VECTORS_TYPE}
            return session.post(f"{url}/encode", data=body, headers=headers, timeout=600)

        def as_json(session: requests.Session, files=multipart):
            return session.post(f"{url}/encode", files=files, timeout=600)

        for name, post in (("binary", binary), ("json", as_json)):
            post(requests.Session())  # warm-up: this batch size's first forward
            out[name][size] = round(closed_loop(post, args) * size, 2)
            print(f"service {name}, batch {size}: {out[name][size]} img/s", file=sys.stderr)
    return out


def bench_ingest(args, stack: LocalStack, model: ModelInfo, files: list[ImageFile]) -> dict:
    store = VectorStore(MilvusSettings(uri=stack.milvus_uri, collection="bench_gpu_ingest"))
    store.drop()
    store.ensure_collection(model)
    client = EncoderClient([stack.encoder_url], timeout_s=600)
    ingester = Ingester(
        client, store, model, batch_size=args.ingest_batch, in_flight=args.in_flight + 1
    )
    ingester.progress = not args.no_progress
    report = ingester.run(files)
    store.drop()
    return {"images": report.added, "images_per_s": report.images_per_s, **report.to_dict()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="bare,decode,service,ingest")
    parser.add_argument("--arch", default=os.environ.get("ENCODER_ARCH", "resnet152"))
    parser.add_argument("--weights", default="random", help="random | imagenet | auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backend", default="auto", help="the service's: auto | torch | onnx")
    parser.add_argument("--decode", default="auto", help="the service's: auto | tensor | pillow")
    parser.add_argument("--batches", default="1,8,32,64")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--photos", type=int, default=256, help="at most this many photos")
    parser.add_argument("--images", type=Path, default=SAMPLE, help="breed folders of photos")
    parser.add_argument("--in-flight", type=int, default=2, help="HTTP clients at once")
    parser.add_argument("--ingest-batch", type=int, default=0, help="0: the largest batch")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads; 0 = one per core")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "data" / "bench-gpu")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.batches = [int(size) for size in args.batches.split(",")]
    args.ingest_batch = args.ingest_batch or max(args.batches)
    sections = set(args.sections.split(","))
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = photos(args)
    files = [file.path.read_bytes() for file in chosen]
    report: dict = {
        "environment": {
            "date": time.strftime("%Y-%m-%d"),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "photos": len(files),
            "in_flight": args.in_flight,
        }
    }
    if sections & {"bare", "decode"}:
        encoder = load_encoder(args.arch, args.weights, device=args.device)
        report["environment"].update(arch=encoder.info.arch, device=str(encoder.device))
        if "bare" in sections:
            report["bare"] = bench_bare(args, encoder)
        if "decode" in sections:
            report["decode"] = bench_decode(args, encoder, files)
        del encoder
        gc.collect()
    if sections & {"service", "ingest"}:
        report.update(serve_and_ingest(args, sections, files, chosen))
    report["ratios"] = ratios(report, args)
    print(json.dumps(report, indent=1))
    return 0


def serve_and_ingest(args, sections: set[str], files: list[bytes], chosen) -> dict:
    args.workdir.mkdir(parents=True, exist_ok=True)
    stack = LocalStack(
        workdir=args.workdir,
        dataset_root=args.workdir,
        encoder_env={
            "ENCODER_ARCH": args.arch,
            "ENCODER_WEIGHTS": args.weights,
            "ENCODER_DEVICE": args.device,
            "ENCODER_BACKEND": args.backend,
            "ENCODER_DECODE": args.decode,
            "ENCODER_THREADS": str(args.threads),
            "ENCODER_MAX_BATCH": str(max(args.batches)),
            "ENCODER_MAX_IMAGES_PER_REQUEST": str(max(64, *args.batches)),
        },
    )
    out: dict = {}
    try:
        stack.start_encoder()
        info = requests.get(f"{stack.encoder_url}/info", timeout=10).json()
        out["encoder"] = {key: info.get(key) for key in ("device", "backend", "decode", "amp")}
        if "service" in sections:
            out["service"] = bench_service(args, stack.encoder_url, files)
        if "ingest" in sections:
            stack.start_milvus()
            model = ModelInfo.from_dict(info["model"])
            out["ingest"] = bench_ingest(args, stack, model, chosen)
    finally:
        stack.stop()
    return out


def ratios(report: dict, args) -> dict:
    """Each target as a ratio of two rates measured in this run."""
    out: dict = {}
    bare = report.get("bare", {})
    backend = str(report.get("encoder", {}).get("backend", "torch"))
    ceiling = bare.get("onnx" if backend.startswith("onnx") else "torch", {})
    service = report.get("service", {})
    for wire, rates in service.items():
        out[f"service_{wire}_over_bare"] = {
            size: round(rates[size] / ceiling[size], 3) for size in rates if ceiling.get(size)
        }
    ingest = report.get("ingest", {}).get("images_per_s")
    if ingest and ceiling.get(args.ingest_batch):
        out["ingest_over_bare"] = round(ingest / ceiling[args.ingest_batch], 3)
    if ingest and service.get("binary", {}).get(args.ingest_batch):
        out["ingest_over_service"] = round(ingest / service["binary"][args.ingest_batch], 3)
    return out


if __name__ == "__main__":
    sys.exit(main())
