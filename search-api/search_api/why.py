"""``POST /api/why``: where a result resembles the query, as a heat map on each photo.

The search API loads no model: it sends the two photos (the uploaded query, or a stored one,
and the stored result) to the encoder's ``/explain`` and passes its answer on. Kept apart from
``api.py`` because it is its own feature: the page asks for it on demand, per result.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from search_api import replies
from search_api.collaborators import collaborators
from search_api.operations import ENCODER, MILVUS, UPLOAD, Example, Reply, operation
from search_api.params import IMAGE_ID, Param
from services.errors import ApiError

why = Blueprint("why", __name__, url_prefix="/api")

RESULT = Param("id", "text", "The result: a stored photo's id.", where=("form", "query"))
QUERY_IMAGE = Param("image", "file", "The query photo.", where=("form",))
QUERY_ID = Param(
    "query_id", "text", "Or the query as a stored photo's id.", where=("form", "query")
)
HEAT = replies.record(
    {
        "rows": replies.INTEGER,
        "cols": replies.INTEGER,
        "grid": replies.array(replies.array(replies.UNIT)),
        "peak": {**replies.array(replies.UNIT), "minItems": 2, "maxItems": 2},
    }
)
EXPLAINED = Reply(
    200,
    "The look similarity of the two photos and a heat map on each (query first): each "
    "cell's share of the similarity, 1 at the hottest, rows top to bottom.",
    replies.record(
        {
            "similarity": {"type": "number"},
            "heat": {**replies.array(HEAT), "minItems": 2, "maxItems": 2},
        }
    ),
    {
        "similarity": 0.81,
        "heat": [
            {"rows": 2, "cols": 2, "grid": [[0.1, 1.0], [0.0, 0.4]], "peak": [0.75, 0.25]},
            {"rows": 2, "cols": 2, "grid": [[0.9, 1.0], [0.2, 0.1]], "peak": [0.75, 0.25]},
        ],
    },
)


def _stored_bytes(raw_id: str) -> tuple[str, bytes]:
    image_id = IMAGE_ID.parse(raw_id)
    photos = collaborators().photos
    path = photos.file(photos.row(image_id))
    if path is None:
        raise ApiError("the photo's file is gone", code="file_missing", status=409)
    return image_id, path.read_bytes()


@why.post("/why")
@operation(
    "Why a result matches: heat maps of the regions that made two photos similar",
    tag="search",
    params=(QUERY_IMAGE, QUERY_ID, RESULT),
    replies=(EXPLAINED,),
    errors=("no_image", "not_found", "file_missing", *UPLOAD, *ENCODER, *MILVUS),
    examples=(
        Example(
            "A stored result against a stored query",
            form={"query_id": IMAGE_ID.example, "id": IMAGE_ID.example},
        ),
    ),
    read_only=True,  # a POST only to carry the photo
)
def explain():
    """The query as an uploaded ``image`` or a stored ``query_id``; the result by ``id``."""
    result = RESULT.read()
    upload = QUERY_IMAGE.read()
    query_id = QUERY_ID.read() if upload is None else None
    if result is None or (upload is None and query_id is None):
        raise ApiError(
            "send the result's id and the query: a file 'image' or a stored 'query_id'",
            code="no_image",
        )
    if upload is not None:
        query = (upload.filename or "query", upload.read())
    else:
        query = _stored_bytes(query_id)
    answer = collaborators().encoder.explain(query, _stored_bytes(result))
    return jsonify({"similarity": answer["similarity"], "heat": answer["heat"]})
