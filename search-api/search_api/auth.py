"""The write key: with ``SEARCH_API_WRITE_KEY`` set, every write needs it; reads stay open.

One ``before_request`` hook decides for every route, from the route's declaration
(:func:`search_api.spec.is_write`): a write without ``Authorization: Bearer <key>``,
or with another key, is answered 401 ``unauthorized`` with ``WWW-Authenticate: Bearer``
before its view runs (an upload is refused before its body is read). The key is compared
in constant time, so answer times do not leak how much of a guess was right.
"""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from search_api.collaborators import collaborators
from search_api.config import SearchApiSettings
from search_api.spec import declared, is_write
from services.errors import Unauthorized

SCHEME = "bearer"


def writes_mode(settings: SearchApiSettings) -> str:
    """``"key"`` when writes need the key, ``"open"`` when anyone may write."""
    return "key" if settings.write_key.get_secret_value() else "open"


def key_matches(given: str, key: str) -> bool:
    """Constant-time comparison (bytes, so a non-ASCII guess is compared, not a TypeError)."""
    return hmac.compare_digest(given.encode(), key.encode())


def check_write_key() -> None:
    """Raise 401 unless this request reads, or carries the write key (when one is set)."""
    key = collaborators().settings.write_key.get_secret_value()
    if not key or request.url_rule is None:  # no key; or a 404/405, answered as such
        return
    view = current_app.view_functions[request.url_rule.endpoint]
    if not is_write(request.method, declared(view)):
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != SCHEME or not given.strip():
        raise Unauthorized("this change needs the write key: send Authorization: Bearer <key>")
    if not key_matches(given.strip(), key):
        raise Unauthorized("the write key is wrong")


def require_write_key(app: Flask) -> None:
    app.before_request(check_write_key)
