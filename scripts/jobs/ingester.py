"""The ingester: files in, vectors stored, every image exactly once however often it runs.

Stages overlap, so the encoder never waits for the disk or Milvus: a reader thread reads and
hashes files ``in_flight`` batches ahead and drops those already indexed (and those the user
deleted, see :mod:`services.deleted`), a pool keeps ``in_flight`` encoder requests busy, and a
writer thread upserts vectors in batches of ``insert_batch`` while encoding goes on. Ids are content
hashes, so stopping at any moment and running again ends with every image indexed exactly
once. Corrupt files are reported and skipped. The command line is :mod:`scripts.jobs.ingest`.
"""

from __future__ import annotations

import argparse
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from tqdm import tqdm

from services.dataset import BreedList, ImageFile, content_id
from services.deleted import DeletedPhotos
from services.encoder_client import EncoderClient
from services.encoder_wire import EncodedImage, ModelInfo
from services.errors import ApiError
from services.imaging import crop_fraction, upright_size
from services.photo import Photo
from services.protocols import DeletedRecords, Encoder, PhotoStore
from services.vectorstore import VectorStore

Item = tuple[ImageFile, str, bytes]  # file, id, bytes
PROGRESS_LOG_S = 30.0  # an "ingest progress" log line at most this often
_DONE = object()  # the reader's last word

log = logging.getLogger(__name__)


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
        log_every_s=PROGRESS_LOG_S,
    )


@dataclass
class Ingester:
    encoder: Encoder
    store: PhotoStore
    model: ModelInfo
    batch_size: int = 32
    in_flight: int = 3
    insert_batch: int = 1000
    split: dict[str, str] = field(default_factory=dict)
    boxes: dict[str, tuple[float, ...]] = field(default_factory=dict)  # crop to these first
    breeds: BreedList = field(default_factory=BreedList.load)
    deleted: DeletedRecords | None = None  # photos the user deleted are not indexed again
    progress: bool = True
    log_every_s: float = PROGRESS_LOG_S
    _started: float = field(default=0.0, init=False, repr=False)
    _logged: float = field(default=0.0, init=False, repr=False)  # when progress was last logged
    _writer: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _writing: Future | None = field(default=None, init=False, repr=False)  # the upsert running

    def run(self, files: list[ImageFile]) -> IngestReport:
        report = IngestReport(total=len(files))
        started = self._started = self._logged = time.perf_counter()
        pending: list[Photo] = []
        bar = tqdm(total=len(files), unit="img", disable=not self.progress, smoothing=0.1)
        futures: deque[Future] = deque()
        pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="encode")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="insert")
        try:
            for batch in self._read_ahead(files, report, bar):
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
            self._writer.shutdown(wait=True)
            self._writer = None
            self._insert(pending, report)  # keep what was encoded before any failure
            self._finish_writing()
            self.store.flush()
            if report.added:
                self.store.wait_for_index()  # the first search after ingest is then fast too
            bar.close()
            report.seconds = round(time.perf_counter() - started, 2)
        return report

    def _read_ahead(
        self, files: list[ImageFile], report: IngestReport, bar: tqdm
    ) -> Iterator[list[Item]]:
        """:meth:`_new_batches` on a thread of its own, up to ``in_flight`` batches ahead."""
        batches: queue.Queue = queue.Queue(self.in_flight)
        stop = threading.Event()

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    batches.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def read() -> None:
            try:
                for batch in self._new_batches(files, report, bar):
                    if not put(batch):
                        return
            except BaseException as error:  # handed to the loop, which raises it
                put(error)
                return
            put(_DONE)

        reader = threading.Thread(target=read, name="read", daemon=True)
        reader.start()
        try:
            while (item := batches.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            reader.join()

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
        self, future: Future, pending: list[Photo], report: IngestReport, bar: tqdm
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
        self._log_progress(report, len(pending))
        if len(pending) >= self.insert_batch:
            self._finish_writing()  # one upsert at a time; its failure stops the run here
            rows = pending.copy()
            pending.clear()
            if self._writer is None:
                self._insert(rows, report)
            else:
                self._writing = self._writer.submit(self._insert, rows, report)

    def _log_progress(self, report: IngestReport, pending: int) -> None:
        """The bar's numbers as a log line, at most every ``log_every_s`` (the bar may be off)."""
        now = time.perf_counter()
        if now - self._logged < self.log_every_s:
            return
        self._logged = now
        added = report.added + pending
        done = added + report.skipped + report.deleted + report.duplicates + len(report.failed)
        seconds = now - self._started
        log.info(
            "ingest progress",
            extra={
                "done": done,
                "total": report.total,
                "added": added,
                "failed": len(report.failed),
                "seconds": round(seconds, 1),
                "images_per_s": round(added / seconds, 2) if seconds else 0.0,
            },
        )

    def _record(self, file: ImageFile, image_id: str, result: EncodedImage) -> Photo:
        return Photo.encoded(
            image_id,
            self.breeds.spelling(file.breed),
            self.breeds.index_of(file.breed),
            file.relative_path,
            model=self.model,
            result=result,
            split=self.split.get(file.relative_path, ""),
        )

    def _finish_writing(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def _insert(self, pending: list[Photo], report: IngestReport) -> None:
        if pending:
            started = time.perf_counter()
            self.store.upsert(pending)
            report.insert_seconds += time.perf_counter() - started
            report.added += len(pending)
            pending.clear()
