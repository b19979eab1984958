"""``POST /api/why``: where a result resembles the query, as a heat map on each photo.

The search API loads no model: it sends the two photos (the uploaded query, or a stored one,
and the stored result) to the encoder's ``/explain`` and passes its answer on. Kept apart from
``api.py`` because it is its own feature: the page asks for it on demand, per result.
"""

from __future__ import annotations

from flask import Blueprint

from search_api.answers import EXAMPLE_ID, Explained
from search_api.collaborators import collaborators
from search_api.schemas import WhyForm, WhyQuery, image_id
from search_api.spec import ENCODER, MILVUS, UPLOAD, Example, endpoint, given
from services.errors import ApiError

why = Blueprint("why", __name__, url_prefix="/api")


def _stored_bytes(raw_id: str) -> tuple[str, bytes]:
    found = image_id(raw_id)
    photos = collaborators().photos
    path = photos.file(photos.row(found))
    if path is None:
        raise ApiError("the photo's file is gone", code="file_missing", status=409)
    return found, path.read_bytes()


@why.post("/why")
@endpoint(
    tag="search",
    query=WhyQuery,
    form=WhyForm,
    answers={
        200: (
            Explained,
            "The look similarity of the two photos and a heat map on each (query first): each "
            "cell's share of the similarity, 1 at the hottest, rows top to bottom.",
        )
    },
    errors=("no_image", "not_found", "file_missing", *UPLOAD, *ENCODER, *MILVUS),
    examples=(
        Example(
            "A stored result against a stored query",
            form={"query_id": EXAMPLE_ID, "id": EXAMPLE_ID},
        ),
    ),
    read_only=True,  # a POST only to carry the photo
)
def explain():
    """Why a result matches: heat maps of the regions that made two photos similar

    The query as an uploaded ``image`` or a stored ``query_id``; the result by ``id``.
    """
    form, query = given(WhyForm), given(WhyQuery)
    asked = {**(query.given() if query else {}), **(form.given() if form else {})}
    upload, result = asked.get("image"), asked.get("id")
    query_id = asked.get("query_id") if upload is None else None
    if result is None or (upload is None and query_id is None):
        raise ApiError(
            "send the result's id and the query: a file 'image' or a stored 'query_id'",
            code="no_image",
        )
    if upload is not None:
        sent = (upload.filename or "query", upload.read())
    else:
        sent = _stored_bytes(query_id)
    answer = collaborators().encoder.explain(sent, _stored_bytes(result))
    return Explained.model_validate(answer)
