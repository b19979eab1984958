"""Bulk ingest of a dataset folder (one sub-folder per breed) into Milvus, through the encoder.

    python -m scripts.jobs.ingest [DATASET] [--reindex] [--limit N] [--json]

The work is :class:`scripts.jobs.ingester.Ingester`; ``--reindex`` is :mod:`scripts.jobs.reindex`.
People get the progress bar and the summary on the console. The structured log is JSON lines:
warnings only on stderr, or with ``--log-file`` (as ``make up`` runs it) also the run's
``ingest started``, ``ingest progress`` every ``PROGRESS_LOG_S`` and ``ingest finished`` with
the report's counts.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from scripts.jobs.ingester import IngestAborted, IngestReport, make_ingester
from scripts.jobs.reindex import ReindexRefused, reindex
from services.consistency import MARKER_NAME, ChangeMarker, ReadConsistency
from services.dataset import files_in_split, load_boxes, load_split
from services.encoder_client import EncoderClient
from services.errors import ApiError
from services.files import PhotoFiles
from services.logs import configure_logging
from services.settings import EncoderClientSettings, MilvusSettings, StorageSettings
from services.vectorstore import ModelMismatch, VectorStore

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    encoder_defaults, milvus_defaults = EncoderClientSettings(), MilvusSettings()
    storage = StorageSettings()
    parser = argparse.ArgumentParser(
        description="Index a folder of breed sub-folders (Stanford Dogs layout works as-is).",
        epilog="Defaults come from SEARCH_API_DATASET_ROOT, SEARCH_API_LIBRARY_DIR, ENCODER_URL, "
        "MILVUS_URI and MILVUS_COLLECTION: the folders and services the search API uses.",
    )
    parser.add_argument(
        "root",
        type=Path,
        nargs="?",
        default=storage.dataset_root,
        help="dataset folder holding one folder per breed (default: %(default)s)",
    )
    parser.add_argument("--encoder-url", default=encoder_defaults.url, help="comma-separated list")
    parser.add_argument("--milvus-uri", default=milvus_defaults.uri)
    parser.add_argument("--collection", default=milvus_defaults.collection)
    parser.add_argument(
        "--lists",
        type=Path,
        help="folder with train_list.txt/test_list.txt (default: ROOT/../lists when it exists)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="images per encoder request")
    parser.add_argument("--in-flight", type=int, default=3, help="encoder requests at once")
    parser.add_argument("--insert-batch", type=int, default=1000, help="rows per Milvus upsert")
    parser.add_argument("--limit", type=int, help="index at most this many files (a try-out)")
    parser.add_argument(
        "--split",
        choices=["train", "test"],
        help="index only this split of the official lists (evaluation galleries)",
    )
    parser.add_argument(
        "--reindex",
        action="store_true",
        help="after a model change: re-encode everything the index holds into a new collection "
        "while the old one keeps serving, then switch to it in one step",
    )
    parser.add_argument(
        "--library",
        type=Path,
        default=storage.library_dir,
        help="where photos added through the API live, for --reindex (default: %(default)s)",
    )
    parser.add_argument(
        "--crop-to-box",
        action="store_true",
        help="encode only the dogs' bounding box (Stanford Dogs annotations); off by default",
    )
    parser.add_argument(
        "--annotations", type=Path, help="the Annotation folder (default ROOT/../Annotation)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="encoder request timeout, s")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--log-file",
        type=Path,
        help="append the structured log lines here instead of stderr, with the run's start, "
        "progress and end (make up keeps the console for people)",
    )
    parser.add_argument("--json", action="store_true", help="also print the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.log_file is None:
        configure_logging("ingest", "WARNING")
        return _run(args)
    args.log_file.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with args.log_file.open("a") as log_file:
        configure_logging("ingest", "INFO", log_file)
        try:
            return _run(args)
        finally:  # a caller in the same process (make up) gets its logging back
            root.handlers[:] = handlers
            root.setLevel(level)


def _run(args: argparse.Namespace) -> int:
    if not args.root.is_dir():
        print(f"error: {args.root} is not a folder", file=sys.stderr)
        return 2
    client_settings = EncoderClientSettings(url=args.encoder_url)
    encoder = EncoderClient(client_settings.urls, args.timeout, client_settings.spread_dns)
    settings = MilvusSettings(uri=args.milvus_uri, collection=args.collection)
    # The store announces each write in this file; the search API's workers refresh browsing,
    # and read up to that write, when it changes.
    changes = ReadConsistency(
        ChangeMarker(args.library / MARKER_NAME), settings.strong_after_write_s
    )
    store = VectorStore(settings, consistency=changes)
    lists = args.lists or args.root.parent / "lists"
    try:
        model = encoder.info()
        split = load_split(lists)
        files = files_in_split(args.root, split, args.split)[: args.limit]
        log.info(
            "ingest started",
            extra={
                "root": str(args.root),
                "files": len(files),
                "reindex": args.reindex,
                "collection": args.collection,
                "fingerprint": model.fingerprint,
            },
        )
        if args.reindex:
            photo_files = PhotoFiles(args.root, args.library)
            report = reindex(args, encoder, store, model, files, split, photo_files)
            print(f"re-indexed into {report.collection}: ", end="")
            return _summary(report, args.json)
        store.ensure_collection(model)
        ingester = make_ingester(args, encoder, store, model, split)
        if args.crop_to_box:
            ingester.boxes = load_boxes(args.annotations or args.root.parent / "Annotation", files)
            print(f"cropping {len(ingester.boxes)} of {len(files)} images to their boxes")
        report = ingester.run(files)
    except (ModelMismatch, ReindexRefused) as error:
        message = error.message if isinstance(error, ModelMismatch) else str(error)
        log.error("ingest refused", extra={"reason": message})
        print(f"error: {message}", file=sys.stderr)
        return 2
    except (ApiError, IngestAborted) as error:
        message = error.message if isinstance(error, ApiError) else str(error)
        log.error("ingest stopped", extra={"reason": message})
        print(
            f"error: ingest stopped: {message}. Already-encoded images are stored; "
            "run the same command again to continue.",
            file=sys.stderr,
        )
        return 3
    report.collection = store.collection
    return _summary(report, args.json)


def _summary(report: IngestReport, as_json: bool = False) -> int:
    counts = {
        key: round(value, 2) if isinstance(value, float) else value
        for key, value in report.to_dict().items()
    }
    log.info("ingest finished", extra=counts | {"failed": len(report.failed)})
    print(
        f"{report.added} added, {report.skipped} already indexed, {report.duplicates} "
        f"duplicate files, {len(report.failed)} failed, {report.seconds}s "
        f"({report.images_per_s} img/s)"
    )
    if report.deleted:
        print(
            f"{report.deleted} photos you deleted were left out; restore them in the UI "
            "(Library, Deleted photos) or with POST /api/images/<id>/restore"
        )
    for failure in report.failed[:20]:
        print(f"  failed: {failure['path']}: {failure['reason']}")
    if as_json:
        print(json.dumps({"ingest": report.to_dict() | {"failed": len(report.failed)}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
