"""What the library's endpoints answer: pydantic models, as :mod:`search_api.answers` says."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel

from search_api.answers import (
    BEAGLE,
    EXAMPLE_ID,
    MODEL,
    OTHER,
    ErrorDetail,
    Photo,
    PhotoId,
    Stored,
    example,
    left_out_when_none,
)
from services.photo import image_urls


class Outcome(BaseModel):
    file: str
    status: Literal["added", "exists", "failed"]
    id: PhotoId | None = left_out_when_none()
    breed: str | None = left_out_when_none()
    error: ErrorDetail | None = left_out_when_none()


ADDED = {"file": "rex.jpg", "id": EXAMPLE_ID, "status": "added", "breed": "beagle"}


class Added(BaseModel):
    results: list[Outcome] = Field(description="one outcome per photo, in order")
    added: int
    model_config = example({"results": [ADDED], "added": 1})


class AlreadyStored(BaseModel):
    results: list[Outcome]
    added: Literal[0]
    model_config = example({"results": [{**ADDED, "status": "exists"}], "added": 0})


class Deleted(BaseModel):
    deleted: list[PhotoId]
    missing: list[PhotoId]
    files_kept: list[PhotoId] = Field(description="dataset originals: their files stay")
    model_config = example({"deleted": [EXAMPLE_ID], "missing": [], "files_kept": [EXAMPLE_ID]})


class DuplicateGroup(BaseModel):
    max_similarity: float
    images: list[Photo]


class DuplicateGroups(BaseModel):
    threshold: float
    groups: list[DuplicateGroup]
    group_count: int
    compared: int
    seconds: float
    model_config = example(
        {
            "threshold": 0.95,
            "groups": [{"max_similarity": 0.99, "images": [BEAGLE, OTHER]}],
            "group_count": 1,
            "compared": 20580,
            "seconds": 0.41,
        }
    )


class DeletedPhoto(BaseModel):
    id: PhotoId
    breed: str
    breed_id: int
    path: str
    split: str
    deleted_at: int = Field(description="Unix seconds")
    in_library: bool
    image_url: str
    thumbnail_url: str


class Bin(BaseModel):
    images: list[DeletedPhoto]
    total: int
    model_config = example(
        {
            "images": [
                {
                    **{name: BEAGLE[name] for name in ("id", "breed", "breed_id", "path", "split")},
                    "deleted_at": 1800000000,
                    "in_library": False,
                    **image_urls(EXAMPLE_ID),
                }
            ],
            "total": 1,
        }
    )


class Restored(Photo):
    status: Literal["restored"]


class StillThere(BaseModel):
    status: Literal["exists"]
    id: PhotoId


class Restore(RootModel[Restored | StillThere]):
    """The photo is searchable again; status 'exists' when it was not deleted after all."""

    model_config = example({"status": "restored", **BEAGLE})


class Purged(BaseModel):
    status: Literal["purged"]
    id: PhotoId
    model_config = example({"status": "purged", "id": EXAMPLE_ID})


class Row(Stored):
    """The photo's stored row with its new label."""

    fingerprint: Annotated[str, Field(max_length=64)]
    model_config = example(
        {name: BEAGLE[name] for name in ("id", "breed", "breed_id", "path", "width", "height")}
        | {"split": "train", "fingerprint": MODEL["fingerprint"]}
    )
