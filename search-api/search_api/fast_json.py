"""The search API's JSON answers through orjson instead of the standard library's encoder.

Every answer is JSON, and a search answer is a few kilobytes of nested dicts, which Flask's
default (``json.dumps`` with sorted keys and ASCII escapes) encodes several times slower than
orjson (measured in docs/performance.md). The output means the same: keys still sorted (caches
and diffs of answers stay stable), non-string keys turned into strings, numpy numbers written as
numbers (``json.dumps`` took ``float64``, a subclass of float), and whatever orjson does not
know (dates, dataclasses, ``Decimal``, ``UUID``, markup) handed to Flask's own conversion, so
dates stay HTTP dates. Not escaping non-ASCII characters is the one visible difference: the
body is UTF-8, as JSON requires.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response  # as Flask's provider declares it

OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME  # Flask writes dates as HTTP dates, not ISO 8601
    | orjson.OPT_PASSTHROUGH_DATACLASS  # and dataclasses through asdict, as before
    | orjson.OPT_APPEND_NEWLINE  # as Flask's answers end
    | orjson.OPT_SERIALIZE_NUMPY  # numpy's float64 is a float to json.dumps, not to orjson
)


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider with orjson doing the encoding; ``loads`` stays Flask's."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # a caller asking for json.dumps's own options gets json.dumps
            return super().dumps(obj, **kwargs)
        return orjson.dumps(obj, default=self.default, option=OPTIONS).decode().rstrip("\n")

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        options = OPTIONS
        if (self.compact is None and self._app.debug) or self.compact is False:
            options |= orjson.OPT_INDENT_2
        body = orjson.dumps(obj, default=self.default, option=options)
        # Flask's app class, typed as the sansio one there; Flask's own provider passes a str.
        return self._app.response_class(body, mimetype=self.mimetype)  # type: ignore[arg-type]
