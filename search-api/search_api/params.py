"""Request parameters, declared once as :class:`Param` specs.

The views read every parameter through its spec (:meth:`Param.read`, :meth:`Param.parse`) and
the OpenAPI document (:mod:`search_api.openapi`) is generated from the same specs, so a bound,
a default or an error code cannot differ between what is enforced and what is documented.

Every bad value is a 400 whose code names the parameter (``invalid_k``); a bad image id is a
404 (ids are content hashes: anything else is simply not found).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from flask import request

from search_api.collaborators import collaborators
from search_api.config import SearchApiSettings
from services.dataset import is_valid_id
from services.errors import ApiError, NotFound

Kind = Literal["int", "float", "bool", "text", "id", "file"]
Location = Literal["query", "form", "json", "path"]
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """A bound or default taken from the app's settings where it is used (``max_k``), so the
    document shows the value this deployment enforces."""

    name: str

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return (SearchApiSettings.model_config.get("env_prefix", "") + self.name).upper()


Bound = int | float | Setting | None


@dataclass(frozen=True)
class Param:
    """One parameter: what it is, where a request gives it, and what values it takes.

    ``low``/``high`` bound numbers (inclusive); for a list (``many``) ``high`` is the most
    items. ``arg`` is the Flask URL variable a path parameter binds (its name otherwise).
    """

    name: str
    kind: Kind
    description: str
    where: tuple[Location, ...] = ("query",)
    low: Bound = None
    high: Bound = None
    default: Any = None
    example: Any = None
    required: bool = False
    many: bool = False
    code: str = ""  # the error code of a bad value, when not invalid_<name> (or not_found)
    arg: str = ""

    @property
    def error_code(self) -> str:
        return self.code or ("not_found" if self.kind == "id" else f"invalid_{self.name}")

    @property
    def settings_used(self) -> dict[str, Setting]:
        """The bounds and default that come from settings, by field name."""
        return {
            f.name: value
            for f in fields(self)
            if isinstance(value := getattr(self, f.name), Setting)
        }

    def at(self, *where: Location) -> Param:
        """The same parameter, given elsewhere (``k`` of a search also comes in a form)."""
        return replace(self, where=where)

    def resolved(self, settings: object) -> Param:
        """This spec with its settings-dependent bounds and default filled in."""
        values = {name: getattr(settings, s.name) for name, s in self.settings_used.items()}
        return replace(self, **values) if values else self

    def errors(self) -> list[tuple[int, str, str]]:
        """``(status, code, message)`` of each way a value can be refused (resolved spec)."""
        name, code = self.name, self.error_code
        refused: list[tuple[int, str, str]] = []
        if self.many and self.kind == "id":
            refused.append((400, code, _not_a_list(name)))
        if self.many and self.high is not None:
            refused.append((413, code, _too_many(name, self.high)))
        if self.kind == "id":
            refused.append((404, "not_found", _no_image("not-an-id")))
        elif self.kind in ("int", "float"):
            refused.append((400, code, _out_of_bounds(name, self.low, self.high)))
        elif self.kind == "bool":
            refused.append((400, code, _not_a_bool(name, "maybe")))
        elif self.kind == "text" and (self.code or self.required):
            refused.append((400, code, _missing_text(name)))
        return refused

    def read(self) -> Any:
        """This parameter of the current request, checked; a view calls this."""
        if self.kind == "file":
            uploads = request.files.getlist(self.name)
            if not self.many:
                return next(iter(uploads), None)
            return self._at_most(uploads)
        if self.where == ("json",):  # a JSON body's field keeps its JSON type
            return self.from_json(json_body(strict=True).get(self.name))
        return self.parse(self._raw())

    def _raw(self) -> str | None:
        """The first value given, looking in the query, the form, then a JSON body; ``""``
        when the only values given are empty."""
        empty = None
        for place in self.where:
            if place == "query":
                value = request.args.get(self.name)
            elif place == "form":
                value = request.form.get(self.name)
            else:
                value = json_body(strict=False).get(self.name)
            if value is not None and value != "":
                return str(value)
            if value is not None:
                empty = ""
        return empty

    def parse(self, raw: str | None) -> Any:
        """The value of ``raw`` (text from the query, a form or the path), checked."""
        spec = self.resolved(collaborators().settings) if self.settings_used else self
        text = (raw or "").strip()
        if spec.kind == "id":
            if raw is None or not is_valid_id(raw):
                raise NotFound(_no_image(raw or ""))
            return raw
        if not text:
            if spec.required:
                raise spec._refuse(_missing_text(spec.name))
            if raw is not None and spec.kind == "bool":  # given, but empty: as the document says,
                raise spec._refuse(_not_a_bool(spec.name, text))  # no boolean
            if raw is not None and spec.kind != "text":
                return spec._number(text)  # "k=" is no number: a 400
            return bool(spec.default) if spec.kind == "bool" else spec.default
        if spec.kind == "bool":
            if text.lower() in TRUE + FALSE:
                return text.lower() in TRUE
            raise spec._refuse(_not_a_bool(spec.name, text))
        if spec.kind == "text":
            return text
        return spec._number(text)

    def _number(self, text: str) -> int | float:
        try:
            value = int(text) if self.kind == "int" else float(text)
        except ValueError:
            noun = "an integer" if self.kind == "int" else "a number"
            raise self._refuse(f"{self.name} must be {noun}, got {text[:40]!r}") from None
        low, high = self.low, self.high
        if not isinstance(low, int | float) or not isinstance(high, int | float):
            raise TypeError(f"{self.name}: resolve the settings-bound spec before parsing")
        if not low <= value <= high:  # also refuses nan
            raise self._refuse(_out_of_bounds(self.name, self.low, self.high))
        return value

    def from_json(self, value: Any) -> Any:
        """A field of a JSON object body, checked for its JSON type."""
        if value is None:
            if self.required:
                raise self._refuse(_missing_text(self.name))
            return self.default
        if self.kind == "text":
            if not isinstance(value, str):
                raise self._refuse(_missing_text(self.name))
            return value
        if self.kind == "id" and self.many:
            if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
                raise self._refuse(_not_a_list(self.name))
            return [self.parse(item) for item in self._at_most(value)]
        return self.parse(str(value))

    def _at_most(self, items: list) -> list:
        """``items``, unless there are more than ``high`` (a 413: the request is too large)."""
        spec = self.resolved(collaborators().settings) if self.settings_used else self
        if isinstance(spec.high, int) and len(items) > spec.high:
            raise spec._refuse(_too_many(spec.name, spec.high), status=413)
        return items

    def _refuse(self, message: str, status: int = 400) -> ApiError:
        return ApiError(message, code=self.error_code, status=status)


Alternatives = tuple[tuple[Param, ...], ...]


def chosen(alternatives: Alternatives, code: str) -> tuple[Param, ...]:
    """The group of ``alternatives`` whose fields the JSON body has, exactly (no other field,
    none of them null); else a 400 ``code``. The OpenAPI ``oneOf`` of the body says the same."""
    body = json_body(strict=True)
    for group in alternatives:
        if set(body) == {param.name for param in group} and None not in body.values():
            return group
    given = " or ".join(
        "{" + ", ".join(f"'{param.name}'" for param in group) + "}" for group in alternatives
    )
    raise ApiError(f"send exactly one of {given}, and no other field", code=code)


def json_body(*, strict: bool) -> dict:
    """The request's JSON object; a body that is not one is a 400 ``invalid_json``. Not
    ``strict``: a request without a JSON body reads as an empty object."""
    if not request.is_json and not strict:
        return {}
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise ApiError("send a JSON object (Content-Type: application/json)", code="invalid_json")
    return body


def _no_image(raw: str) -> str:
    return f"no image with id {raw[:80]!r}"


def _not_a_bool(name: str, text: str) -> str:
    return f"{name} must be true or false, got {text[:40]!r}"


def _out_of_bounds(name: str, low: Bound, high: Bound) -> str:
    return f"{name} must be between {low} and {high}"


def _missing_text(name: str) -> str:
    return f"give {name!r} as a string"


def _not_a_list(name: str) -> str:
    return f"{name!r} must be a list of image ids"


def _too_many(name: str, high: Bound) -> str:
    return f"at most {high} values of {name!r} per request"


IMAGE_ID = Param(
    "id",
    "id",
    "The image's id: the content hash every answer gives (24 hex digits).",
    where=("path",),
    required=True,
    example="3f9c2b7e1a4d8e6f0b5c9a21",
    arg="raw_id",
)
