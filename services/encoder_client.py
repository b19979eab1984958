"""HTTP client for the encoder service, used by the search API, ingest and the scripts.

Failures are translated into the shared errors once, here: connection refused -> 503
``encoder_unavailable``, timeout -> 504 ``encoder_timeout``, the encoder's own 4xx passed on
unchanged. Several URLs are used round-robin, and a URL that refuses connections is skipped.
With ``spread_dns``, a host name that resolves to several addresses (``docker compose up
--scale encoder=3``, a headless Kubernetes service) counts as one URL per address, refreshed
every ``DNS_TTL_S``: pooled keep-alive connections would otherwise stick to one replica.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

import requests

from services.encoder_wire import EncodedImage, ModelInfo
from services.errors import ApiError, DependencyTimeout, DependencyUnavailable
from services.metrics import ENCODER_CALL_SECONDS
from services.wire import IMAGES_TYPE, VECTORS_TYPE, pack_images, unpack_vectors

DEPENDENCY = "encoder"
DNS_TTL_S = 30.0
Resolver = Callable[[str, int], list[str]]


def resolve_all(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in a stable order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def spread_urls(urls: Sequence[str], resolver: Resolver = resolve_all) -> list[str]:
    """One URL per resolved address; a name that does not resolve is kept as it is."""
    spread: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = resolver(parts.hostname or "", port)
        except OSError:
            addresses = []
        if len(addresses) <= 1 or parts.scheme == "https":  # TLS needs the name, not the IP
            spread.append(url)
            continue
        for address in addresses:
            host = f"[{address}]" if ":" in address else address
            spread.append(urlunsplit(parts._replace(netloc=f"{host}:{port}")))
    return spread


class EncoderClient:
    def __init__(
        self,
        urls: Sequence[str],
        timeout_s: float = 30.0,
        spread_dns: bool = False,
        resolver: Resolver = resolve_all,
    ):
        if not urls:
            raise ValueError("at least one encoder URL is needed")
        self.configured = list(urls)
        self.urls = list(urls)
        self.timeout_s = timeout_s
        self.spread_dns = spread_dns
        self._resolver = resolver
        self._resolved_at = -DNS_TTL_S
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._local = threading.local()  # requests.Session is not thread-safe: one per thread

    def _current_urls(self) -> tuple[list[str], int]:
        """The URLs to try now and where to start (round-robin)."""
        with self._lock:
            if self.spread_dns and time.monotonic() - self._resolved_at >= DNS_TTL_S:
                self.urls = spread_urls(self.configured, self._resolver) or self.configured
                self._resolved_at = time.monotonic()
            return self.urls, next(self._counter)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _request(self, method: str, path: str, *, timeout: float | None = None, **kwargs):
        urls, start = self._current_urls()
        last_error = "no encoder URL answered"
        # Each replica twice: a kept-alive connection the encoder has just closed (gunicorn's
        # keep-alive is 2 s) fails the first send, and encoding is safe to send again.
        for offset in range(2 * len(urls)):
            base = urls[(start + offset // 2) % len(urls)]
            started = time.perf_counter()
            try:
                response = self._session().request(
                    method, base + path, timeout=timeout or self.timeout_s, **kwargs
                )
            except requests.Timeout:
                raise DependencyTimeout(DEPENDENCY, f"{base} did not answer in time") from None
            except requests.ConnectionError:
                last_error = f"cannot connect to {base}"
                continue
            except requests.RequestException as error:  # e.g. the answer broke off mid-body
                last_error = f"{base} broke off its answer ({type(error).__name__})"
                continue
            finally:
                ENCODER_CALL_SECONDS.observe(time.perf_counter() - started)
            return self._check(response, base)
        raise DependencyUnavailable(DEPENDENCY, last_error)

    @staticmethod
    def _check(response: requests.Response, base: str) -> requests.Response:
        if response.ok:
            return response
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message") or f"HTTP {response.status_code} from {base}"
        if response.status_code >= 500:
            raise DependencyUnavailable(DEPENDENCY, message)
        raise ApiError(message, code=error.get("code", "bad_request"), status=response.status_code)

    def info(self) -> ModelInfo:
        return ModelInfo.from_dict(self._request("GET", "/info", timeout=5).json()["model"])

    def ready(self) -> str | None:
        """``None`` when an encoder answers ready, else what is wrong (for ``/readyz``)."""
        try:
            self._request("GET", "/readyz", timeout=3)
        except ApiError as error:
            return error.message
        return None

    def encode(
        self,
        images: Sequence[tuple[str, bytes]],
        *,
        timeout: float | None = None,
        dogs: bool = False,
    ) -> tuple[ModelInfo, list[EncodedImage]]:
        """Encode ``(filename, bytes)`` pairs; each result is a vector or that image's error.
        ``dogs`` asks where each dog is: ~3.2x the encoder's time, so only the upload search
        asks (ingest, re-index and library adds never look at the boxes).

        Speaks the binary wire (``services.wire``): no multipart, no base64, no JSON floats.
        """
        response = self._request(
            "POST",
            "/encode",
            params={"dogs": "1"} if dogs else None,
            data=pack_images([data for _, data in images]),
            headers={"Content-Type": IMAGES_TYPE, "Accept": f"{VECTORS_TYPE}, application/json"},
            timeout=timeout,
        )
        if response.headers.get("Content-Type", "").startswith(VECTORS_TYPE):
            try:
                model, results, _ = unpack_vectors(response.content)
            except (ValueError, KeyError) as error:
                raise DependencyUnavailable(DEPENDENCY, f"a garbled answer ({error})") from None
            return model, results
        body = response.json()  # an encoder that answers JSON only
        results = [EncodedImage.from_dict(item) for item in body["results"]]
        return ModelInfo.from_dict(body["model"]), results

    def explain(self, first: tuple[str, bytes], second: tuple[str, bytes]) -> dict:
        """The encoder's ``/explain`` answer for two ``(filename, bytes)`` photos: the look
        similarity and a heat map on each (see ``encoder/explain.py``)."""
        files = [
            (field, (name, data, "application/octet-stream"))
            for field, (name, data) in (("first", first), ("second", second))
        ]
        return self._request("POST", "/explain", files=files).json()
