"""What each endpoint accepts: pydantic models of its query, form and JSON body.

spectree validates every request against these before the view runs, and the OpenAPI
document's parameters and request bodies are generated from them, so a bound cannot differ
between what is enforced and what is documented. A refused value becomes our error body in
:mod:`search_api.spec` (``invalid_<field>``, or the code a model's ``codes`` names).

Bounds and defaults that come from settings (``max_k``) are marked with :func:`from_settings`:
the value is checked against the current app's settings here, and each app's document shows
its own numbers (:mod:`search_api.openapi`).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, get_origin

from flask import has_app_context
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from werkzeug.datastructures import FileStorage

from search_api.answers import PHOTO_ID
from search_api.collaborators import collaborators
from search_api.config import SearchApiSettings
from services.dataset import UNKNOWN_BREED, is_valid_id
from services.errors import ApiError, NotFound

SETTINGS = "x-settings"  # a field's bounds or default that settings give: {keyword: setting}


ONLY_BREED = "Only photos of this breed (any case): a breed the index has (GET /api/breeds)."


def from_settings(**keywords: str) -> dict[str, Any]:
    """``json_schema_extra`` of a field whose ``maximum`` or ``default`` is a setting."""
    return {SETTINGS: keywords}


def setting_env(name: str) -> str:
    """The environment variable that sets ``name``."""
    return (SearchApiSettings.model_config.get("env_prefix", "") + name).upper()


def _blank_is_absent(value: Any) -> Any:
    """``breed=`` means no breed: forms send empty fields for options left alone."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _one_file(value: Any) -> FileStorage | None:
    if isinstance(value, list):
        value = next(iter(value), None)
    return value if isinstance(value, FileStorage) else None


def _files(value: Any) -> list[FileStorage]:
    values = value if isinstance(value, list) else [value]
    return [item for item in values if isinstance(item, FileStorage)]


BINARY = WithJsonSchema({"type": "string", "format": "binary"})
BINARIES = WithJsonSchema({"type": "array", "items": {"type": "string", "format": "binary"}})
# A text field named like a file field is no file: it reads as none sent (no_image).
Upload = Annotated[FileStorage | None, PlainValidator(_one_file), BINARY]
Text = Annotated[str | None, BeforeValidator(_blank_is_absent)]
ImageId = Annotated[str, Field(pattern=PHOTO_ID["pattern"])]


class Request(BaseModel):
    """A request part. ``codes``: a field's error code when not ``invalid_<field>``."""

    model_config = ConfigDict(
        str_strip_whitespace=True, allow_inf_nan=False, arbitrary_types_allowed=True
    )
    codes: ClassVar[dict[str, str]] = {}

    @classmethod
    def code_of(cls, name: str) -> str:
        return cls.codes.get(name, f"invalid_{name}")

    @classmethod
    def bounds(cls, name: str) -> tuple[Any, Any]:
        """``(minimum, maximum)`` of a field, settings resolved (None where unbounded)."""
        field = cls.model_fields[name]
        low = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
        high = next((m.le for m in field.metadata if hasattr(m, "le")), None)
        named = _settings_of(cls, name)
        if "maximum" in named and has_app_context():
            high = getattr(collaborators().settings, named["maximum"])
        return low, high

    @field_validator("*")
    @classmethod
    def _within_settings(cls, value: Any, info: ValidationInfo) -> Any:
        """The bounds that settings give, checked against this app's settings. Refused as
        our error directly: the value may hold uploads, which no validation error can show."""
        name = str(info.field_name)
        named = _settings_of(cls, name)
        if value is None or not named:
            return value
        code = cls.code_of(name)
        if "maxItems" in named:
            most = getattr(collaborators().settings, named["maxItems"])
            if len(value) > most:
                message = f"at most {most} values of {name!r} per request"
                raise ApiError(message, code=code, status=413)
        low, high = cls.bounds(name)
        if "maximum" in named and value > high:
            raise ApiError(f"{name} must be between {low} and {high}", code=code)
        return value

    def given(self) -> dict[str, Any]:
        """The fields the request gave a value (not those left to their defaults)."""
        given = self.model_dump(exclude_unset=True)
        return {name: value for name, value in given.items() if value is not None}


def _settings_of(model: type[BaseModel], name: str) -> dict[str, str]:
    extra = model.model_fields[name].json_schema_extra
    return extra.get(SETTINGS, {}) if isinstance(extra, dict) else {}  # type: ignore[return-value]


def filled(model: type[Request], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with every field: a default from settings where one is named."""
    settings = collaborators().settings
    out = {}
    for name, field in model.model_fields.items():
        default = _settings_of(model, name).get("default")
        value = given.get(name)
        if value is None:
            value = getattr(settings, default) if default else field.default
        out[name] = value
    return out


class Sent(Request):
    """A query string or a form: a field given twice reads as its first value (as Flask's
    ``get`` does), but for a list field, which takes them all."""

    @model_validator(mode="before")
    @classmethod
    def _first_values(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        lists = {name for name, f in cls.model_fields.items() if get_origin(f.annotation) is list}
        return {
            name: value[0] if isinstance(value, list) and value and name not in lists else value
            for name, value in data.items()
        }


class Ranking(Request):
    """What both searches take: how many results, and which to leave out."""

    k: int | None = Field(
        None,
        ge=1,
        description="How many results to return.",
        examples=[5],
        json_schema_extra=from_settings(maximum="max_k", default="default_k"),
    )
    breed: Text = Field(None, description=ONLY_BREED, examples=["Chihuahua"])
    min_similarity: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Leave out results less similar than this (cosine similarity).",
        examples=[0.6],
    )
    hide_duplicates: bool = Field(
        False,
        description="Leave out near-copies of a higher-ranked result or of the query photo "
        "(at the similarity SEARCH_API_DUPLICATE_THRESHOLD).",
        examples=[True],
    )
    duplicate_threshold: float | None = Field(
        None,
        ge=0.5,
        le=1.0,
        description="Hide near-copies from this similarity up (implies hide_duplicates).",
        examples=[0.97],
    )


class SearchJson(Ranking):
    """A search by URL as a JSON body; the options may also come in the query or a form."""

    url: Text = Field(
        None,
        description="Or a photo's http(s) URL, which the service fetches (public addresses only).",
        examples=["https://example.com/rex.jpg"],
    )
    box: Text = Field(
        None,
        description="Search one region: left,top,right,bottom as fractions (0 to 1) of the photo.",
        examples=["0.1,0.2,0.8,0.9"],
    )
    dogs: bool = Field(
        True,
        description="Find each dog in the photo (query.dogs; with several, the results are the "
        "most sure dog's). false: the whole photo only, without the second pass over it that "
        "costs about 3x the encoding on a CPU.",
        examples=[False],
    )


class SimilarQuery(Sent, Ranking):
    pass


class SearchQuery(Sent, SearchJson):
    pass


class SearchForm(Sent, SearchJson):
    image: Upload = Field(None, description="The photo to search with.")
    codes = {"image": "no_image"}


class Browse(Sent):
    breed: Text = Field(None, description=ONLY_BREED, examples=["Chihuahua"])
    page: int = Field(1, ge=1, le=10**7, description="The page, from 1.", examples=[2])
    per_page: int = Field(
        48,
        ge=1,
        description="Photos per page.",
        json_schema_extra=from_settings(maximum="max_per_page"),
    )


class Duplicates(Sent):
    threshold: float | None = Field(
        None,
        ge=0.5,
        le=1.0,
        description="Photos at least this similar count as near-duplicates (cosine similarity).",
        examples=[0.97],
        json_schema_extra=from_settings(default="duplicate_threshold"),
    )
    limit: int = Field(100, ge=1, le=10_000, description="The most groups to list.")


class AddForm(Sent):
    image: Annotated[list[FileStorage], PlainValidator(_files), BINARIES] = Field(
        default_factory=list,
        description="The photos to add: one or more multipart file fields named image.",
        json_schema_extra=from_settings(maxItems="max_images_per_upload"),
    )
    breed: Text = Field(
        UNKNOWN_BREED,
        description="The breed of every photo sent: a name from the breed list (any case), "
        "or unknown.",
        examples=["beagle"],
    )
    codes = {"image": "too_many_images"}
    # None sent is a no_image from the view, as every route that takes a photo answers it.
    model_config = ConfigDict(json_schema_extra={"required": ["image"]})


class Selection(Request):
    """Exactly one of `ids` or `breed`, and nothing else."""

    ids: list[ImageId] | None = Field(
        None, max_length=10_000, description="The ids of the photos to delete."
    )
    breed: str | None = Field(
        None,
        description="Or delete every photo of this breed (a breed the index has).",
        examples=["Chihuahua"],
    )
    codes = {"ids": "invalid_selection", "breed": "unknown_breed"}
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"ids": {"type": "array", "items": PHOTO_ID}},
                    "required": ["ids"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"breed": {"type": "string"}},
                    "required": ["breed"],
                    "additionalProperties": False,
                },
            ]
        }
    )

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, body: Any) -> Any:
        one = isinstance(body, dict) and len(body) == 1 and None not in body.values()
        if one and set(body) in ({"ids"}, {"breed"}):
            return body
        raise ApiError(
            "send exactly one of {'ids'} or {'breed'}, and no other field", code="invalid_selection"
        )


class Relabel(Request):
    breed: str = Field(
        description="The new label: a name from the breed list (any case), or unknown.",
        examples=["beagle"],
    )


class WhyQuery(Sent):
    query_id: Text = Field(None, description="Or the query as a stored photo's id.")
    id: Text = Field(None, description="The result: a stored photo's id.")


class WhyForm(WhyQuery):
    image: Upload = Field(None, description="The query photo.")
    codes = {"image": "no_image"}


def image_id(raw: str) -> str:
    """A path's image id, checked: ids are content hashes, so anything else is not found."""
    if not is_valid_id(raw):
        raise NotFound(f"no image with id {raw[:80]!r}")
    return raw
