"""The library blueprint: add photos, delete them (one, many, a whole breed), relabel them,
restore or purge deleted ones, and list near-duplicates."""

from __future__ import annotations

from flask import Blueprint, jsonify

from search_api import replies
from search_api.collaborators import collaborators
from search_api.operations import ENCODER, MILVUS, Example, operation
from search_api.params import IMAGE_ID, Param, Setting, chosen
from services.errors import ApiError

library = Blueprint("library", __name__, url_prefix="/api")
PHOTOS = Param(
    "image",
    "file",
    "The photos to add: one or more multipart file fields named image.",
    where=("form",),
    required=True,
    many=True,
    high=Setting("max_images_per_upload"),
    code="too_many_images",
)
LABEL = Param(
    "breed",
    "text",
    "The breed of every photo sent: a name from the breed list (any case), or unknown.",
    where=("form",),
    default="unknown",
    example="beagle",
)
IDS = Param(
    "ids",
    "id",
    "The ids of the photos to delete.",
    where=("json",),
    many=True,
    high=10_000,
    code="invalid_selection",
    example=[IMAGE_ID.example],
)
BREED_TO_DELETE = Param(
    "breed",
    "text",
    "Or delete every photo of this breed (a breed the index has).",
    where=("json",),
    code="unknown_breed",
    example="Chihuahua",
)
NEW_LABEL = Param(
    "breed",
    "text",
    "The new label: a name from the breed list (any case), or unknown.",
    where=("json",),
    required=True,
    code="invalid_breed",
    example="beagle",
)
THRESHOLD = Param(
    "threshold",
    "float",
    "Photos at least this similar count as near-duplicates (cosine similarity).",
    low=0.5,
    high=1.0,
    default=Setting("duplicate_threshold"),
    example=0.97,
)
SELECTION = ((IDS,), (BREED_TO_DELETE,))  # one or the other, never both
LIMIT = Param("limit", "int", "The most groups to list.", low=1, high=10_000, default=100)
ONE = (Example("One photo", path={"id": IMAGE_ID.example}),)


@library.post("/images")
@operation(
    "Add photos to the library",
    tag="library",
    params=(PHOTOS, LABEL),
    replies=(replies.ADDED, replies.ALREADY_STORED),
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
    """Each photo is stored and searchable at once; each gets its own outcome. When every
    photo fails, the answer is a 400 with the first photo's error and every outcome."""
    uploads = PHOTOS.read()
    if not uploads:
        raise ApiError("send one or more photos as multipart fields named 'image'", code="no_image")
    files = [(upload.filename or f"photo-{n}", upload.read()) for n, upload in enumerate(uploads)]
    results = collaborators().library.add(files, LABEL.read())
    collaborators().catalog.invalidate()
    added = sum(result["status"] == "added" for result in results)
    if added:
        return jsonify({"results": results, "added": added}), 201
    if any(result["status"] == "exists" for result in results):
        return jsonify({"results": results, "added": 0}), 200
    first = results[0]["error"]  # every photo failed: the error format, with each outcome
    return jsonify({"error": first, "results": results, "added": 0}), 400


@library.delete("/images/<raw_id>")
@operation(
    "Delete a photo (it can be restored)",
    tag="library",
    params=(IMAGE_ID,),
    replies=(replies.DELETED,),
    errors=("storage_error", *MILVUS),
    examples=ONE,
)
def delete_image(raw_id: str):
    outcome = collaborators().recycle.delete([IMAGE_ID.parse(raw_id)])
    collaborators().catalog.invalidate()
    if not outcome["deleted"]:
        raise ApiError(f"no image with id {raw_id[:80]!r}", code="not_found", status=404)
    return jsonify(outcome)


@library.post("/images/delete")
@operation(
    "Delete many photos: by id, or a whole breed",
    tag="library",
    params=(IDS, BREED_TO_DELETE),
    replies=(replies.DELETED,),
    errors=("invalid_json", "invalid_selection", "storage_error", *MILVUS),
    examples=(
        Example("By id", json={"ids": [IMAGE_ID.example]}),
        Example("Every photo of a breed", json={"breed": "Chihuahua"}),
        Example("Both at once is refused", json={"ids": [], "breed": "Chihuahua"}, status=400),
    ),
    one_of=SELECTION,
)
def delete_images():
    """A JSON object with either ``ids`` or ``breed``, nothing else; ids not stored are listed
    as missing."""
    if chosen(SELECTION, "invalid_selection") == (IDS,):
        ids = IDS.read()
    else:
        breed = collaborators().search.check_breed(BREED_TO_DELETE.read())
        ids = [row.id for row in collaborators().catalog.snapshot().rows if row.breed == breed]
    outcome = collaborators().recycle.delete(ids)
    collaborators().catalog.invalidate()
    return jsonify(outcome)


@library.get("/duplicates")
@operation(
    "Groups of near-duplicate photos",
    tag="library",
    params=(THRESHOLD, LIMIT),
    replies=(replies.DUPLICATES,),
    errors=MILVUS,
    examples=(Example("Close copies, ten groups", query={"threshold": 0.97, "limit": 10}),),
)
def duplicates():
    """Near-copies are judged on the photos' look alone, not their breed."""
    threshold, limit = THRESHOLD.read(), LIMIT.read()
    found = collaborators().duplicates.groups(threshold)
    shown = found["groups"][:limit]
    by_id = collaborators().photos.rows([i for group in shown for i in group["ids"]])
    groups = [
        {
            "max_similarity": group["max_similarity"],
            "images": [by_id[i].to_json() for i in group["ids"] if i in by_id],
        }
        for group in shown
    ]
    return jsonify(
        {
            "threshold": threshold,
            "groups": [group for group in groups if len(group["images"]) > 1],
            "group_count": len(found["groups"]),
            "compared": found["compared"],
            "seconds": found["seconds"],
        }
    )


@library.get("/deleted")
@operation(
    "Deleted photos",
    tag="library",
    replies=(replies.BIN,),
    errors=MILVUS,
    examples=(Example("The bin"),),
)
def deleted_photos():
    """Deleted photos, newest first, each restorable: dataset originals (kept out of every
    ingest until restored) and photos added through the API (their file in the trash)."""
    photos = collaborators().recycle.deleted_photos()
    return jsonify({"images": photos, "total": len(photos)})


@library.post("/images/<raw_id>/restore")
@operation(
    "Restore a deleted photo",
    tag="library",
    params=(IMAGE_ID,),
    replies=(replies.RESTORED,),
    errors=("file_missing", "file_changed", "invalid_image", "model_mismatch", *ENCODER, *MILVUS),
    examples=ONE,
)
def restore_image(raw_id: str):
    """Undo a deletion: the photo is encoded again from its file and searchable at once."""
    outcome = collaborators().recycle.restore(IMAGE_ID.parse(raw_id))
    collaborators().catalog.invalidate()
    return jsonify(outcome)


@library.delete("/deleted/<raw_id>")
@operation(
    "Purge a deleted photo for good",
    tag="library",
    params=(IMAGE_ID,),
    replies=(replies.PURGED,),
    errors=("read_only_original", *MILVUS),
    examples=ONE,
)
def purge_image(raw_id: str):
    """Delete a photo added through the API for good (its file leaves the trash)."""
    return jsonify(collaborators().recycle.purge(IMAGE_ID.parse(raw_id)))


@library.patch("/images/<raw_id>")
@operation(
    "Change a photo's breed label",
    tag="library",
    params=(IMAGE_ID, NEW_LABEL),
    replies=(replies.ROW,),
    errors=("invalid_json", "unknown_breed", *MILVUS),
    examples=(
        Example("Label it a beagle", path={"id": IMAGE_ID.example}, json={"breed": "beagle"}),
    ),
)
def relabel_image(raw_id: str):
    """JSON ``{"breed": "..."}``: a breed from the list, or ``unknown``."""
    breed = NEW_LABEL.read()
    row = collaborators().library.relabel(IMAGE_ID.parse(raw_id), breed)
    collaborators().catalog.invalidate()
    return jsonify(row)
