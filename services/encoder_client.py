"""HTTP client for the encoder service, used by the search API, ingest and the scripts.

Failures are translated into the shared errors once, here: connection refused -> 503
``encoder_unavailable``, timeout -> 504 ``encoder_timeout``, the encoder's own 4xx passed on
unchanged. Several URLs are used round-robin, and a URL that refuses connections is skipped.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence

import requests

from services.errors import ApiError, DependencyTimeout, DependencyUnavailable
from services.schema import EncodedImage, ModelInfo

DEPENDENCY = "encoder"


class EncoderClient:
    def __init__(self, urls: Sequence[str], timeout_s: float = 30.0):
        if not urls:
            raise ValueError("at least one encoder URL is needed")
        self.urls = list(urls)
        self.timeout_s = timeout_s
        self._next_url = itertools.cycle(range(len(self.urls)))
        self._lock = threading.Lock()
        self._local = threading.local()  # requests.Session is not thread-safe: one per thread

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _request(self, method: str, path: str, *, timeout: float | None = None, **kwargs):
        with self._lock:
            start = next(self._next_url)
        last_error = "no encoder URL answered"
        for offset in range(len(self.urls)):
            base = self.urls[(start + offset) % len(self.urls)]
            try:
                response = self._session().request(
                    method, base + path, timeout=timeout or self.timeout_s, **kwargs
                )
            except requests.Timeout:
                raise DependencyTimeout(DEPENDENCY, f"{base} did not answer in time") from None
            except requests.ConnectionError:
                last_error = f"cannot connect to {base}"
                continue
            return self._check(response, base)
        raise DependencyUnavailable(DEPENDENCY, last_error)

    @staticmethod
    def _check(response: requests.Response, base: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.ok:
            return body
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message") or f"HTTP {response.status_code} from {base}"
        if response.status_code >= 500:
            raise DependencyUnavailable(DEPENDENCY, message)
        raise ApiError(message, code=error.get("code", "bad_request"), status=response.status_code)

    def info(self) -> ModelInfo:
        return ModelInfo.from_dict(self._request("GET", "/info", timeout=5)["model"])

    def ready(self) -> str | None:
        """``None`` when an encoder answers ready, else what is wrong (for ``/readyz``)."""
        try:
            self._request("GET", "/readyz", timeout=3)
        except ApiError as error:
            return error.message
        return None

    def encode(
        self, images: Sequence[tuple[str, bytes]], *, timeout: float | None = None
    ) -> tuple[ModelInfo, list[EncodedImage]]:
        """Encode ``(filename, bytes)`` pairs; each result is a vector or that image's error."""
        files = [("image", (name, data, "application/octet-stream")) for name, data in images]
        body = self._request("POST", "/encode", files=files, timeout=timeout)
        results = [EncodedImage.from_dict(item) for item in body["results"]]
        return ModelInfo.from_dict(body["model"]), results
