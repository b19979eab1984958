"""Encoder throughput in images/s: the bare model (the ceiling) and the in-process service path.

    python scripts/bench_encoder.py --arch resnet152 --weights random --batches 1,8,32

Prints one JSON object. The service path includes JPEG decoding, preprocessing and the
batcher, so ``service / bare`` is the service's efficiency at each batch size.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time

import torch

from encoder.config import EncoderSettings
from encoder.model import CROP, load_encoder
from encoder.service import EncodingService
from scripts.synthetic import make_image


def _rate(run, images: int, seconds: float) -> float:
    run()  # warm-up (cudnn autotune, allocator)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        run()
        done += images
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return round(done / (time.perf_counter() - started), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="resnet152")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    args = parser.parse_args(argv)
    encoder = load_encoder(args.arch, args.weights, device=args.device)
    sizes = [int(size) for size in args.batches.split(",")]
    jpeg = io.BytesIO()
    make_image(0, (500, 375)).save(jpeg, format="JPEG", quality=90)
    report = {
        "arch": encoder.info.arch,
        "device": str(encoder.device),
        "amp": encoder.use_amp,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "bare": {},
        "service": {},
    }
    for size in sizes:
        batch = torch.randn(size, 3, CROP, CROP)
        report["bare"][size] = _rate(lambda b=batch: encoder.embed(b), size, args.seconds)
        service = EncodingService(encoder, EncoderSettings(max_batch=size, max_wait_ms=2))
        service.start()
        files = [jpeg.getvalue()] * size
        report["service"][size] = _rate(lambda f=files, s=service: s.encode(f), size, args.seconds)
        service.stop()
    report["efficiency"] = {s: round(report["service"][s] / report["bare"][s], 3) for s in sizes}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
