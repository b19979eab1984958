"""Validation of query parameters: every bad value is a 400 with a code that names it."""

from __future__ import annotations

from services.dataset import is_valid_id
from services.errors import ApiError, NotFound


def int_param(raw: str | None, name: str, *, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            f"{name} must be an integer, got {raw[:40]!r}", code=f"invalid_{name}"
        ) from None
    if not low <= value <= high:
        raise ApiError(f"{name} must be between {low} and {high}", code=f"invalid_{name}")
    return value


def float_param(raw: str | None, name: str, *, low: float, high: float) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(
            f"{name} must be a number, got {raw[:40]!r}", code=f"invalid_{name}"
        ) from None
    if not low <= value <= high:  # also refuses nan
        raise ApiError(f"{name} must be between {low} and {high}", code=f"invalid_{name}")
    return value


def bool_param(raw: str | None, name: str) -> bool:
    value = (raw or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ApiError(f"{name} must be true or false, got {raw[:40]!r}", code=f"invalid_{name}")


def image_id(raw: str) -> str:
    """Ids are content hashes; anything else (``..``, slashes, encodings) is simply not found."""
    if not is_valid_id(raw):
        raise NotFound(f"no image with id {raw[:80]!r}")
    return raw


def optional_text(raw: str | None) -> str | None:
    value = (raw or "").strip()
    return value or None
