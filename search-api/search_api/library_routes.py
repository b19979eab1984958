"""The library blueprint: add photos, delete them (one, many, a whole breed), relabel them,
restore or purge deleted ones, and list near-duplicates."""

from __future__ import annotations

from flask import Blueprint

from search_api.answers import EXAMPLE_ID, Error, Photo
from search_api.collaborators import collaborators
from search_api.library_answers import (
    Added,
    AlreadyStored,
    Bin,
    Deleted,
    DuplicateGroups,
    Purged,
    Restore,
    Row,
)
from search_api.schemas import AddForm, Duplicates, Relabel, Selection, filled, image_id
from search_api.spec import ENCODER, MILVUS, Example, endpoint, given
from services.errors import ApiError

library = Blueprint("library", __name__, url_prefix="/api")
ONE = (Example("One photo", path={"id": EXAMPLE_ID}),)
DELETED = "The ids deleted, those not found, and those whose file stays (dataset originals)."


@library.post("/images")
@endpoint(
    tag="library",
    form=AddForm,
    answers={
        201: (Added, "At least one photo was added; one outcome per photo, in order."),
        200: (
            AlreadyStored,
            "None was added, and some were already stored (their outcome says which breed "
            "they keep).",
        ),
    },
    errors=(
        "no_image",
        "unknown_breed",
        "payload_too_large",
        "invalid_image",
        "empty_file",
        "image_too_large",
        "too_many_pixels",
        "model_mismatch",
        "storage_error",
        *ENCODER,
        *MILVUS,
    ),
    examples=(
        Example(
            "Two photos of a beagle",
            form={"image": ["@rex.jpg", "@bella.jpg"], "breed": "beagle"},
            status=201,
        ),
        Example(
            "A label that is not a breed",
            form={"image": "@rex.jpg", "breed": "unicorn"},
            status=400,
        ),
    ),
)
def add_images():
    """Add photos to the library

    Each photo is stored and searchable at once; each gets its own outcome. When every
    photo fails, the answer is a 400 with the first photo's error and every outcome.
    """
    form = given(AddForm)
    if form is None or not form.image:
        raise ApiError("send one or more photos as multipart fields named 'image'", code="no_image")
    files = [
        (upload.filename or f"photo-{n}", upload.read()) for n, upload in enumerate(form.image)
    ]
    results = collaborators().library.add(files, form.breed)
    collaborators().catalog.invalidate()
    added = sum(result["status"] == "added" for result in results)
    if added:
        return Added.model_validate({"results": results, "added": added}), 201
    if any(result["status"] == "exists" for result in results):
        return AlreadyStored.model_validate({"results": results, "added": 0})
    first = results[0]["error"]  # every photo failed: the error format, with each outcome
    return Error.model_validate({"error": first, "results": results, "added": 0}), 400


@library.delete("/images/<raw_id>")
@endpoint(
    tag="library",
    answers={200: (Deleted, DELETED)},
    errors=("storage_error", *MILVUS),
    examples=ONE,
)
def delete_image(raw_id: str):
    """Delete a photo (it can be restored)"""
    outcome = collaborators().recycle.delete([image_id(raw_id)])
    collaborators().catalog.invalidate()
    if not outcome["deleted"]:
        raise ApiError(f"no image with id {raw_id[:80]!r}", code="not_found", status=404)
    return Deleted.model_validate(outcome)


@library.post("/images/delete")
@endpoint(
    tag="library",
    json=Selection,
    answers={200: (Deleted, DELETED)},
    errors=("invalid_json", "invalid_selection", "storage_error", *MILVUS),
    examples=(
        Example("By id", json={"ids": [EXAMPLE_ID]}),
        Example("Every photo of a breed", json={"breed": "Chihuahua"}),
        Example("Both at once is refused", json={"ids": [], "breed": "Chihuahua"}, status=400),
    ),
)
def delete_images():
    """Delete many photos: by id, or a whole breed

    A JSON object with either ``ids`` or ``breed``, nothing else; ids not stored are listed
    as missing.
    """
    selection = given(Selection)
    assert selection is not None  # the hook refuses a request without its JSON body
    if selection.ids is not None:
        ids = selection.ids
    else:
        breed = collaborators().search.check_breed(selection.breed)
        ids = [row.id for row in collaborators().catalog.snapshot().rows if row.breed == breed]
    outcome = collaborators().recycle.delete(ids)
    collaborators().catalog.invalidate()
    return Deleted.model_validate(outcome)


@library.get("/duplicates")
@endpoint(
    tag="library",
    query=Duplicates,
    answers={200: (DuplicateGroups, "Groups of near-duplicate photos, the closest groups first.")},
    errors=MILVUS,
    examples=(Example("Close copies, ten groups", query={"threshold": 0.97, "limit": 10}),),
)
def duplicates():
    """Groups of near-duplicate photos

    Near-copies are judged on the photos' look alone, not their breed.
    """
    asked = given(Duplicates)
    options = filled(Duplicates, asked.given() if asked else {})
    threshold, limit = options["threshold"], options["limit"]
    found = collaborators().duplicates.groups(threshold)
    shown = found["groups"][:limit]
    by_id = collaborators().photos.rows([i for group in shown for i in group["ids"]])
    groups = [
        {
            "max_similarity": group["max_similarity"],
            "images": [Photo.of(by_id[i]) for i in group["ids"] if i in by_id],
        }
        for group in shown
    ]
    return DuplicateGroups.model_validate(
        {
            "threshold": threshold,
            "groups": [group for group in groups if len(group["images"]) > 1],
            "group_count": len(found["groups"]),
            "compared": found["compared"],
            "seconds": found["seconds"],
        }
    )


@library.get("/deleted")
@endpoint(
    tag="library",
    answers={200: (Bin, "Deleted photos, newest first; each can be restored.")},
    errors=MILVUS,
    examples=(Example("The bin"),),
)
def deleted_photos():
    """Deleted photos

    Deleted photos, newest first, each restorable: dataset originals (kept out of every
    ingest until restored) and photos added through the API (their file in the trash).
    """
    photos = collaborators().recycle.deleted_photos()
    return Bin.model_validate({"images": photos, "total": len(photos)})


@library.post("/images/<raw_id>/restore")
@endpoint(
    tag="library",
    answers={200: (Restore, "The photo is searchable again, or was not deleted after all.")},
    errors=("file_missing", "file_changed", "invalid_image", "model_mismatch", *ENCODER, *MILVUS),
    examples=ONE,
)
def restore_image(raw_id: str):
    """Restore a deleted photo

    Undo a deletion: the photo is encoded again from its file and searchable at once.
    """
    outcome = collaborators().recycle.restore(image_id(raw_id))
    collaborators().catalog.invalidate()
    return Restore.model_validate(outcome)


@library.delete("/deleted/<raw_id>")
@endpoint(
    tag="library",
    answers={200: (Purged, "The photo's file is gone for good.")},
    errors=("read_only_original", *MILVUS),
    examples=ONE,
)
def purge_image(raw_id: str):
    """Purge a deleted photo for good

    Delete a photo added through the API for good (its file leaves the trash).
    """
    return Purged.model_validate(collaborators().recycle.purge(image_id(raw_id)))


@library.patch("/images/<raw_id>")
@endpoint(
    tag="library",
    json=Relabel,
    answers={200: (Row, "The photo's stored row with its new label.")},
    errors=("invalid_json", "unknown_breed", *MILVUS),
    examples=(Example("Label it a beagle", path={"id": EXAMPLE_ID}, json={"breed": "beagle"}),),
)
def relabel_image(raw_id: str):
    """Change a photo's breed label

    JSON ``{"breed": "..."}``: a breed from the list, or ``unknown``.
    """
    relabel = given(Relabel)
    assert relabel is not None  # the hook refuses a request without its JSON body
    row = collaborators().library.relabel(image_id(raw_id), relabel.breed)
    collaborators().catalog.invalidate()
    return Row.model_validate(row)
