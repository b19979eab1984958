"""Bulk ingest of a dataset folder (one sub-folder per breed) into Milvus, through the encoder.

    python scripts/ingest.py data/stanford-dogs/Images

Stages overlap: the main thread reads and hashes files and drops those already indexed (and
those the user deleted, see :mod:`services.deleted`), a pool keeps ``--in-flight`` encoder
requests busy, and vectors are upserted in batches of ``--insert-batch``. Ids are content
hashes, so stopping at any moment and running again ends with every image indexed exactly
once. Corrupt files are reported and skipped. ``--reindex`` is :mod:`scripts.reindex`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from services.dataset import (
    BreedList,
    ImageFile,
    content_id,
    files_in_split,
    load_boxes,
    load_split,
)
from services.deleted import DeletedPhotos
from services.encoder_client import EncoderClient
from services.errors import ApiError
from services.files import PhotoFiles
from services.imaging import crop_fraction, upright_size
from services.logs import configure_logging
from services.photo import Photo
from services.schema import EncodedImage, ModelInfo
from services.settings import EncoderClientSettings, MilvusSettings, StorageSettings
from services.vectorstore import ModelMismatch, VectorStore

log = logging.getLogger("ingest")
Item = tuple[ImageFile, str, bytes]  # file, id, bytes


class IngestAborted(RuntimeError):
    """A dependency failed mid-run; what was encoded so far is stored, a re-run continues."""


@dataclass
class IngestReport:
    total: int = 0
    added: int = 0
    skipped: int = 0  # already indexed
    deleted: int = 0  # deleted by the user: kept deleted until restored
    duplicates: int = 0  # same bytes as another file in this run
    failed: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    collection: str = ""
    encode_seconds: float = 0.0
    insert_seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        return round(self.added / self.seconds, 2) if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "images_per_s": self.images_per_s}


def make_ingester(
    args: argparse.Namespace,
    encoder: EncoderClient,
    store: VectorStore,
    model: ModelInfo,
    split: dict[str, str],
) -> Ingester:
    return Ingester(
        encoder,
        store,
        model,
        args.batch_size,
        args.in_flight,
        args.insert_batch,
        split,
        deleted=DeletedPhotos(store.settings),
        progress=not args.no_progress,
    )


@dataclass
class Ingester:
    encoder: EncoderClient
    store: VectorStore
    model: ModelInfo
    batch_size: int = 32
    in_flight: int = 3
    insert_batch: int = 1000
    split: dict[str, str] = field(default_factory=dict)
    boxes: dict[str, tuple[float, ...]] = field(default_factory=dict)  # crop to these first
    breeds: BreedList = field(default_factory=BreedList.load)
    deleted: DeletedPhotos | None = None  # photos the user deleted are not indexed again
    progress: bool = True

    def run(self, files: list[ImageFile]) -> IngestReport:
        report = IngestReport(total=len(files))
        started = time.perf_counter()
        pending: list[dict] = []
        bar = tqdm(total=len(files), unit="img", disable=not self.progress, smoothing=0.1)
        futures: deque[Future] = deque()
        pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="encode")
        try:
            for batch in self._new_batches(files, report, bar):
                futures.append(pool.submit(self._encode, batch))
                while len(futures) >= self.in_flight:
                    self._collect(futures.popleft(), pending, report, bar)
            while futures:
                self._collect(futures.popleft(), pending, report, bar)
        except ApiError as error:
            for future in futures:
                future.cancel()
            raise IngestAborted(f"{error.message} ({error.code})") from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._insert(pending, report)  # keep what was encoded before any failure
            self.store.flush()
            if report.added:
                self.store.wait_for_index()  # the first search after ingest is then fast too
            bar.close()
            report.seconds = round(time.perf_counter() - started, 2)
        return report

    def _new_batches(
        self, files: list[ImageFile], report: IngestReport, bar: tqdm
    ) -> Iterator[list[Item]]:
        """Read and hash files; yield batches of those not yet in the index."""
        seen: set[str] = set()
        batch: list[Item] = []
        chunk = max(self.batch_size * 8, 256)
        for offset in range(0, len(files), chunk):
            items: list[Item] = []
            for file in files[offset : offset + chunk]:
                try:
                    data = file.path.read_bytes()
                except OSError as error:
                    report.failed.append({"path": file.relative_path, "reason": str(error)})
                    bar.update(1)
                    continue
                image_id = content_id(data)
                if image_id in seen:
                    report.duplicates += 1
                    bar.update(1)
                    continue
                seen.add(image_id)
                items.append((file, image_id, data))
            ids = [image_id for _, image_id, _ in items]
            existing = self.store.existing_ids(ids)
            deleted = self.deleted.among(ids) - existing if self.deleted else set()
            report.skipped += len(existing)
            report.deleted += len(deleted)
            bar.update(len(existing) + len(deleted))
            existing |= deleted
            for item in items:
                if item[1] not in existing:
                    batch.append(item)
                    if len(batch) == self.batch_size:
                        yield batch
                        batch = []
        if batch:
            yield batch

    def _encode(self, batch: list[Item]) -> tuple[list[Item], ModelInfo, list[EncodedImage], float]:
        started = time.perf_counter()
        uploads = [(f.relative_path, self._cropped(f, data)) for f, _, data in batch]
        model, results = self.encoder.encode(uploads)
        for (file, _, data), result in zip(batch, results, strict=True):
            if result.ok and file.relative_path in self.boxes:  # keep the original's size
                result.width, result.height = upright_size(data)
        return batch, model, results, time.perf_counter() - started

    def _cropped(self, file: ImageFile, data: bytes) -> bytes:
        """The dog's bounding box alone, when cropping is on and the file has one."""
        box = self.boxes.get(file.relative_path)
        if box is None:
            return data
        try:
            return crop_fraction(data, box)
        except ApiError:
            return data  # the encoder reports what is wrong with the file itself

    def _collect(
        self, future: Future, pending: list[dict], report: IngestReport, bar: tqdm
    ) -> None:
        batch, model, results, seconds = future.result()
        report.encode_seconds += seconds
        if not model.same_model(self.model):
            raise ApiError(
                f"the encoder's model changed during the run ({self.model.fingerprint} -> "
                f"{model.fingerprint})",
                code="model_mismatch",
            )
        for (file, image_id, _), result in zip(batch, results, strict=True):
            if not result.ok:
                report.failed.append(
                    {
                        "path": file.relative_path,
                        "reason": f"{result.error_code}: {result.error_message}",
                    }
                )
                continue
            pending.append(self._record(file, image_id, result))
        bar.update(len(batch))
        bar.set_postfix(added=report.added + len(pending), failed=len(report.failed))
        if len(pending) >= self.insert_batch:
            self._insert(pending, report)

    def _record(self, file: ImageFile, image_id: str, result: EncodedImage) -> dict:
        return Photo(
            id=image_id,
            breed=file.breed,
            breed_id=self.breeds.index_of(file.breed),
            path=file.relative_path,
            width=result.width,
            height=result.height,
            split=self.split.get(file.relative_path, ""),
            fingerprint=self.model.fingerprint,
            vector=result.vector,
        ).to_row()

    def _insert(self, pending: list[dict], report: IngestReport) -> None:
        if pending:
            started = time.perf_counter()
            self.store.upsert(pending)
            report.insert_seconds += time.perf_counter() - started
            report.added += len(pending)
            pending.clear()


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
    parser.add_argument("--json", action="store_true", help="also print the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    from scripts.jobs.reindex import ReindexRefused, reindex  # it builds on this module's Ingester

    args = build_parser().parse_args(argv)
    configure_logging("ingest", "WARNING")
    if not args.root.is_dir():
        print(f"error: {args.root} is not a folder", file=sys.stderr)
        return 2
    client_settings = EncoderClientSettings(url=args.encoder_url)
    encoder = EncoderClient(client_settings.urls, args.timeout, client_settings.spread_dns)
    store = VectorStore(MilvusSettings(uri=args.milvus_uri, collection=args.collection))
    lists = args.lists or args.root.parent / "lists"
    try:
        model = encoder.info()
        split = load_split(lists)
        files = files_in_split(args.root, split, args.split)[: args.limit]
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
    except ModelMismatch as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    except ReindexRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ApiError, IngestAborted) as error:
        message = error.message if isinstance(error, ApiError) else str(error)
        print(
            f"error: ingest stopped: {message}. Already-encoded images are stored; "
            "run the same command again to continue.",
            file=sys.stderr,
        )
        return 3
    report.collection = store.collection
    return _summary(report, args.json)


def _summary(report: IngestReport, as_json: bool = False) -> int:
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
