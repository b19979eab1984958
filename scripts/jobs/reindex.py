"""Re-index after a model change, without losing a photo and without a moment of downtime.

``store.collection`` (``dogs``) is an alias. The new vectors go to ``dogs_v<time>`` while the
alias still points at the old collection, so searches keep working and never see two models
at once; then the alias moves in one step and the old collection is dropped. Labels
(relabelled photos, photos added through the API) come along; deleted photos stay deleted.

A stored photo is never lost on the way: every photo the index holds must be re-encoded from
its file. When a file is missing (a library volume not mounted, a dataset moved) or cannot be
encoded, the re-index stops *before* the switch, drops the half-built collection and names the
photos, and the old index keeps serving unchanged.
"""

from __future__ import annotations

import argparse
import time

from scripts.jobs.ingester import IngestReport, make_ingester
from services.dataset import ImageFile
from services.encoder_client import EncoderClient
from services.encoder_wire import ModelInfo
from services.files import PhotoFiles
from services.photo import Photo
from services.vectorstore import VectorStore

SHOWN = 20  # photos named in a refusal; the rest are counted
OLD_COLLECTION_GRACE_S = 5.0  # searches that resolved the alias to the old one finish


class ReindexRefused(RuntimeError):
    """The re-index stopped before switching; nothing changed. The message names the photos."""

    def __init__(self, reason: str, photos: list[dict[str, str]]):
        lines = [f"  {photo['id']}  {photo['path']}: {photo['reason']}" for photo in photos[:SHOWN]]
        if len(photos) > SHOWN:
            lines.append(f"  ... and {len(photos) - SHOWN} more")
        super().__init__(
            f"re-index stopped before switching: {len(photos)} stored photos {reason}. Nothing "
            "changed: the index still serves the old model. Restore their files (photos added "
            "in the UI live in SEARCH_API_LIBRARY_DIR, given to ingest as --library), or "
            "delete these photos in the UI, then run the re-index again.\n" + "\n".join(lines)
        )
        self.photos = photos


def files_of(photos: list[Photo], files: PhotoFiles) -> tuple[list[ImageFile], dict[str, str]]:
    """The files behind stored photos, labelled as they are; refuses if any is missing."""
    found, missing = [], []
    for photo in photos:
        path = files.existing(photo.path)
        if path is None:
            missing.append({"id": photo.id, "path": photo.path, "reason": "file not found"})
        else:
            found.append(ImageFile(path, photo.path, photo.breed))
    if missing:
        raise ReindexRefused("have no file", missing)
    return found, {photo.path: photo.split for photo in photos}


def _check(report: IngestReport, ids_by_path: dict[str, str]) -> None:
    if report.failed:
        failed = [
            {"id": ids_by_path.get(f["path"], "?"), "path": f["path"], "reason": f["reason"]}
            for f in report.failed
        ]
        raise ReindexRefused("could not be encoded again", failed)


def reindex(
    args: argparse.Namespace,
    encoder: EncoderClient,
    store: VectorStore,
    model: ModelInfo,
    folder_files: list[ImageFile],
    folder_split: dict[str, str],
    photo_files: PhotoFiles,
) -> IngestReport:
    """Re-encode what the index holds into a new collection, then switch (see module doc).

    With no index yet, the folder is indexed into the first versioned collection.
    """
    previous = store.physical_collection()
    source = VectorStore(store.settings, previous, store.consistency) if previous else None
    rows = source.all_rows() if source else []
    files, split = files_of(rows, photo_files) if rows else (folder_files, folder_split)
    ids_by_path = {row.path: row.id for row in rows}
    name = f"{store.collection}_v{time.strftime('%Y%m%d%H%M%S')}"
    target = VectorStore(store.settings, name, store.consistency)  # its writes are announced
    target.ensure_collection(model)
    ingester = make_ingester(args, encoder, target, model, split)
    if rows:
        ingester.deleted = None  # carry over exactly the rows the index holds
    try:
        report = ingester.run(files)
        if rows:
            _check(report, ids_by_path)
        if source is not None:  # photos added to the old collection meanwhile come along too
            done = {row.id for row in target.all_rows()}
            late = [row for row in source.all_rows() if row.id not in done]
            if late:
                late_files, late_split = files_of(late, photo_files)
                ingester.split = {**split, **late_split}
                late_report = ingester.run(late_files)
                _check(late_report, {row.path: row.id for row in late})
                report.added += late_report.added
    except BaseException:
        target.drop()  # the old collection still serves; a re-run starts afresh
        raise
    old = store.point_alias_at(target.collection)
    if old is not None:
        time.sleep(OLD_COLLECTION_GRACE_S)  # searches that resolved the alias just before
        store.drop_physical(old)
    report.collection = target.collection
    return report
