"""The shapes of the API's answers, as JSON Schemas, with an example body for each answer.

A photo's schema is made from :data:`services.photo.FIELDS` and a model's from
:class:`services.encoder_wire.ModelInfo`, the definitions the answers themselves are serialised
from; examples are made by the same serialisers (``Photo.to_json``, ``ModelInfo.to_dict``).
The tests validate every example, and every answer to an example request, against these.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from search_api.operations import Reply
from search_api.params import IMAGE_ID
from services.dataset import ID_HEX_CHARS
from services.encoder_wire import ModelInfo
from services.photo import FIELDS, ID, PUBLIC_FIELDS, Photo, image_urls

REF = "#/components/schemas/"
JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
STRING, INTEGER, NUMBER, BOOLEAN = ({"type": t} for t in ("string", "integer", "number", "boolean"))


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def record(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with these properties, all required but ``optional``; more are allowed."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required}


def _field(name: str) -> dict[str, Any]:
    spec = next(spec for spec in (ID, *FIELDS) if spec.name == name)
    if spec.kind == "int":
        return dict(INTEGER)
    return {"type": "string", "maxLength": spec.max_length}


def _model() -> dict[str, Any]:
    properties = {f.name: {"type": JSON_TYPES[str(f.type)]} for f in fields(ModelInfo)}
    required = [f.name for f in fields(ModelInfo) if f.default is MISSING]
    return {"type": "object", "properties": properties, "required": required}


URLS = {"image_url": STRING, "thumbnail_url": STRING}
PHOTO_ID = {"type": "string", "pattern": f"^[0-9a-f]{{{ID_HEX_CHARS}}}$"}
PHOTO = record({"id": PHOTO_ID, **{name: _field(name) for name in PUBLIC_FIELDS}, **URLS})
UNIT = {"type": "number", "minimum": 0, "maximum": 1}
MATCH = {
    **record(
        {
            "strength": {"enum": ["strong", "weak", "none"]},
            "best_similarity": nullable(UNIT),
            "strong_from": NUMBER,
            "weak_from": NUMBER,
        }
    ),
    "description": "Kept for compatibility: the best `similarity` against calibrated bounds; "
    "any photo of the query's breed scores high. See each result's `look` and `same_breed`.",
}
# What each number of a result means (the README's API section says the same).
HIT_SCORES = {
    "similarity": {
        **UNIT,
        "description": "Cosine similarity of the whole breed-aware vector (look and breed "
        "guesses): what results are ranked by and `min_similarity` filters on. Any photo of the "
        "query's breed scores high; `look` says how alike the dogs themselves are.",
    },
    "look": {
        **UNIT,
        "description": "Cosine similarity of the look part alone (the model's pooled features, "
        "each made a unit vector again): how much this photo looks like the query, whatever the "
        "breed guesses; for a same-looking dog. Equals `similarity` if vectors have no breed part.",
    },
    "same_breed": {
        **nullable(BOOLEAN),
        "description": "Whether this photo's breed is the query's: the encoder's top guess for a "
        "photo search, the stored breed (`query.breed`) for more-like-this; null when unknown.",
    },
    "near_copy": {
        **BOOLEAN,
        "description": "The query photo itself, re-saved, resized or lightly cropped (`look` of "
        "at least the model's `copy_from`); shown first.",
    },
}
PREDICTION = record({"breed": STRING, "breed_id": INTEGER, "probability": UNIT})
DOG = record({"is_dog": BOOLEAN, "score": UNIT, "threshold": UNIT})
BOX = {**array(UNIT), "minItems": 4, "maxItems": 4}
FOUND_DOG = record(  # several dogs: each one's region to search by (crop) and its guesses
    dict(box=BOX, score=UNIT, crop=BOX, predictions=array(PREDICTION)), ("crop", "predictions")
)
QUERY = record(
    {
        "width": INTEGER,
        "height": INTEGER,
        "predictions": array(PREDICTION),
        "dog": DOG,
        "dogs": array(FOUND_DOG),  # box: left, top, right, bottom fractions; most sure first
        "preview": {"type": "string", "description": "a data: URL (search by URL only)"},
    },
    optional=("dog", "dogs", "preview"),
)
RANKED = {"results": array(ref("Hit")), "hidden_duplicates": INTEGER}
TIMINGS = ("encode_ms", "search_ms", "total_ms")

ERROR_DETAIL = record({"code": STRING, "message": STRING})

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": record({"error": ref("ErrorDetail")}),
    "ErrorDetail": ERROR_DETAIL,
    "Photo": PHOTO,
    "Hit": {
        "allOf": [ref("Photo")],
        **record(HIT_SCORES),
    },
    "Model": _model(),
    "SearchResult": record(
        {
            "k": INTEGER,
            "breed": nullable(STRING),
            "query": QUERY,
            "match": MATCH,
            **RANKED,
            "index_empty": BOOLEAN,
            "timings": record(dict.fromkeys(TIMINGS, NUMBER)),
        },
    ),
    "SimilarResult": record(
        {
            "k": INTEGER,
            "breed": nullable(STRING),
            "query": record({"id": PHOTO_ID, "breed": STRING, **URLS}),
            "match": nullable(MATCH),
            **RANKED,
            "timings": record(dict.fromkeys(("fetch_ms", "search_ms", "total_ms"), NUMBER)),
        },
    ),
}


def photo(breed: str, breed_id: int, path: str, image_id: str = IMAGE_ID.example) -> dict:
    """An example photo as the API shows one."""
    return Photo(image_id, breed, breed_id, path, 500, 375, "train").to_json()


BEAGLE = photo("beagle", 11, "n02088364-beagle/n02088364_10108.jpg")
OTHER_ID = "a41c7d0e93b25f68c1e7d3b9"
OTHER = photo("beagle", 11, "n02088364-beagle/n02088364_1128.jpg", OTHER_ID)
MODEL = ModelInfo("tf_efficientnet_lite0", 1408, "9c1e0f3a5b7d2e4f", "checkpoint").to_dict()
RANKED_EXAMPLE = {
    "results": [
        {**BEAGLE, "similarity": 0.97, "look": 0.83, "same_breed": True, "near_copy": False}
    ],
    "hidden_duplicates": 0,
}
MATCH_EXAMPLE = {
    "strength": "strong",
    "best_similarity": 0.97,
    "strong_from": 0.93,
    "weak_from": 0.6,
}

SEARCH = Reply(
    200,
    "The closest photos, best first, with what the query photo looks like to the model.",
    "SearchResult",
    {
        "k": 12,
        "breed": None,
        "query": {
            "width": 640,
            "height": 480,
            "predictions": [{"breed": "beagle", "breed_id": 11, "probability": 0.91}],
            "dog": {"is_dog": True, "score": 0.98, "threshold": 0.5},
            "dogs": [{"box": [0.05, 0.2, 0.48, 0.95], "score": 0.97}],
        },
        "match": MATCH_EXAMPLE,
        **RANKED_EXAMPLE,
        "index_empty": False,
        "timings": {"encode_ms": 41.2, "search_ms": 3.1, "total_ms": 44.5},
    },
)
SIMILAR = Reply(
    200,
    "Other photos like this one, best first.",
    "SimilarResult",
    {
        "k": 12,
        "breed": None,
        "query": {
            "id": OTHER_ID,
            "breed": OTHER["breed"],
            "image_url": OTHER["image_url"],
            "thumbnail_url": OTHER["thumbnail_url"],
        },
        "match": MATCH_EXAMPLE,
        **RANKED_EXAMPLE,
        "timings": {"fetch_ms": 1.2, "search_ms": 3.0, "total_ms": 4.2},
    },
)
BREEDS = Reply(
    200,
    "The breeds in the index with their photo counts, and every label a photo can be given.",
    record(
        {
            "breeds": array(
                record({"name": STRING, "label": STRING, "count": INTEGER, "id": INTEGER})
            ),
            "total": INTEGER,
            "known": array(STRING),
        }
    ),
    {
        "breeds": [{"name": "beagle", "label": "Beagle", "count": 195, "id": 11}],
        "total": 195,
        "known": ["Chihuahua", "beagle"],
    },
)
IMAGES = Reply(
    200,
    "One page of photos, in path order.",
    record(
        {
            "images": array(ref("Photo")),
            "breed": nullable(STRING),
            "page": INTEGER,
            "per_page": INTEGER,
            "total": INTEGER,
            "pages": INTEGER,
        }
    ),
    {
        "images": [BEAGLE, OTHER],
        "breed": "beagle",
        "page": 1,
        "per_page": 48,
        "total": 2,
        "pages": 1,
    },
)
IMAGE = Reply(
    200,
    "The photo's metadata and the size of its file (null when the file is missing).",
    {"allOf": [ref("Photo")], **record({"file_bytes": nullable(INTEGER)})},
    {**BEAGLE, "file_bytes": 48213},
)
STATS = Reply(
    200,
    "Index size, the models of the index and of the encoder, and the request limits.",
    record(
        {
            "count": INTEGER,
            "collection": STRING,
            "index_model": nullable(ref("Model")),
            "encoder_model": nullable(ref("Model")),
            "encoder_error": nullable(STRING),
            "model_matches": nullable(BOOLEAN),
            "reindex_needed": BOOLEAN,
            "writes": {"enum": ["open", "key"]},
            "limits": record(
                {
                    "max_upload_bytes": INTEGER,
                    "default_k": INTEGER,
                    "max_k": INTEGER,
                    "duplicate_threshold": NUMBER,
                }
            ),
        }
    ),
    {
        "count": 20580,
        "collection": "dogs",
        "index_model": MODEL,
        "encoder_model": MODEL,
        "encoder_error": None,
        "model_matches": True,
        "reindex_needed": False,
        "writes": "key",
        "limits": {
            "max_upload_bytes": 20971520,
            "default_k": 12,
            "max_k": 100,
            "duplicate_threshold": 0.95,
        },
    },
)
OUTCOME = record(
    {
        "file": STRING,
        "status": {"enum": ["added", "exists", "failed"]},
        "id": PHOTO_ID,
        "breed": STRING,
        "error": ref("ErrorDetail"),
    },
    optional=("id", "breed", "error"),
)
ADDED_EXAMPLE = {"file": "rex.jpg", "id": IMAGE_ID.example, "status": "added", "breed": "beagle"}
ADDED = Reply(
    201,
    "At least one photo was added; one outcome per photo, in order.",
    record({"results": array(OUTCOME), "added": INTEGER}),
    {"results": [ADDED_EXAMPLE], "added": 1},
)
ALREADY_STORED = Reply(
    200,
    "None was added, and some were already stored (their outcome says which breed they keep).",
    record({"results": array(OUTCOME), "added": {"const": 0}}),
    {"results": [{**ADDED_EXAMPLE, "status": "exists"}], "added": 0},
)
DELETED = Reply(
    200,
    "The ids deleted, those not found, and those whose file stays (dataset originals).",
    record({name: array(PHOTO_ID) for name in ("deleted", "missing", "files_kept")}),
    {"deleted": [IMAGE_ID.example], "missing": [], "files_kept": [IMAGE_ID.example]},
)
DUPLICATES = Reply(
    200,
    "Groups of near-duplicate photos, the closest groups first.",
    record(
        {
            "threshold": NUMBER,
            "groups": array(record({"max_similarity": NUMBER, "images": array(ref("Photo"))})),
            "group_count": INTEGER,
            "compared": INTEGER,
            "seconds": NUMBER,
        }
    ),
    {
        "threshold": 0.95,
        "groups": [{"max_similarity": 0.99, "images": [BEAGLE, OTHER]}],
        "group_count": 1,
        "compared": 20580,
        "seconds": 0.41,
    },
)
DELETED_PHOTO = record(
    {
        "id": PHOTO_ID,
        "breed": STRING,
        "breed_id": INTEGER,
        "path": STRING,
        "split": STRING,
        "deleted_at": {"type": "integer", "description": "Unix seconds"},
        "in_library": BOOLEAN,
        **URLS,
    }
)
BIN = Reply(
    200,
    "Deleted photos, newest first; each can be restored.",
    record({"images": array(DELETED_PHOTO), "total": INTEGER}),
    {
        "images": [
            {
                **{name: BEAGLE[name] for name in ("id", "breed", "breed_id", "path", "split")},
                "deleted_at": 1800000000,
                "in_library": False,
                **image_urls(BEAGLE["id"]),
            }
        ],
        "total": 1,
    },
)
RESTORED = Reply(
    200,
    "The photo is searchable again; status 'exists' when it was not deleted after all.",
    {
        "anyOf": [
            {"allOf": [ref("Photo")], **record({"status": {"const": "restored"}})},
            record({"status": {"const": "exists"}, "id": PHOTO_ID}),
        ]
    },
    {"status": "restored", **BEAGLE},
)
PURGED = Reply(
    200,
    "The photo's file is gone for good.",
    record({"status": {"const": "purged"}, "id": PHOTO_ID}),
    {"status": "purged", "id": IMAGE_ID.example},
)
ROW = Reply(
    200,
    "The photo's stored row with its new label.",
    record({"id": PHOTO_ID, **{spec.name: _field(spec.name) for spec in FIELDS}}),
    {
        **{name: BEAGLE[name] for name in ("id", *PUBLIC_FIELDS)},
        "fingerprint": MODEL["fingerprint"],
    },
)
