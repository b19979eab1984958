"""Fetching a query image from a URL the user gives, without becoming an SSRF proxy.

The server fetches on the user's behalf, so a URL must never reach what only the server can:
loopback, private networks, link-local (cloud metadata at 169.254.169.254), and so on. The
host is resolved once, *every* address is checked, and the connection goes to the checked
address (no second DNS lookup an attacker could answer differently). Redirects are followed
by hand, each hop checked the same way. Size and time are capped while reading.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3

from services.errors import ApiError
from services.imaging import megabytes, too_many_bytes

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
USER_AGENT = "dogsearch-url-fetch/1"
MAX_REDIRECTS = 3
CHUNK = 64 * 1024


class UrlRefused(ApiError):
    code = "url_not_allowed"


class UrlFetchFailed(ApiError):
    code = "url_fetch_failed"


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UrlFetchFailed(f"cannot resolve {host!r}: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: Address) -> bool:
    """Globally routable unicast only; IPv4-mapped IPv6 is judged by its IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass
class UrlFetcher:
    timeout_s: float = 10.0
    max_bytes: int = 20 * 1024 * 1024
    resolver: Resolver = resolve
    allowed: Callable[[Address], bool] = is_public

    def fetch(self, url: str) -> bytes:
        """The body of ``url`` (after checked redirects), or a 4xx :class:`ApiError`."""
        deadline = time.monotonic() + self.timeout_s
        for _ in range(MAX_REDIRECTS + 1):
            response = self._get(url, deadline)
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                response.release_conn()
                if not location:
                    raise UrlFetchFailed(f"{url} redirects without a Location")
                url = urljoin(url, location)
                continue
            try:
                if response.status != 200:
                    raise UrlFetchFailed(f"{url} answered HTTP {response.status}")
                return self._read(response, deadline)
            finally:
                response.release_conn()
        raise UrlFetchFailed(f"more than {MAX_REDIRECTS} redirects")

    def _target(self, url: str) -> tuple[str, str, int, str, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise UrlRefused("only http and https URLs can be fetched", status=400)
        if not parts.hostname:
            raise UrlRefused("the URL has no host", status=400)
        if parts.username or parts.password:  # the server would send someone's secret for them
            raise UrlRefused(
                "URLs with a user name or password are not fetched", code="url_credentials"
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UrlRefused("the URL's port is invalid", status=400) from None
        addresses = [
            ipaddress.ip_address(a.split("%")[0]) for a in self.resolver(parts.hostname, port)
        ]
        if not addresses:
            raise UrlFetchFailed(f"{parts.hostname} has no address")
        refused = [str(a) for a in addresses if not self.allowed(a)]
        if refused:
            raise UrlRefused(
                f"{parts.hostname} resolves to {', '.join(refused)}, a private, loopback, "
                "link-local or reserved address; only public addresses are fetched"
            )
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return parts.scheme, parts.hostname, port, str(addresses[0]), path

    def _get(self, url: str, deadline: float) -> urllib3.BaseHTTPResponse:
        scheme, host, port, address, path = self._target(url)
        remaining = max(0.1, deadline - time.monotonic())
        timeout = urllib3.Timeout(connect=min(remaining, 5.0), read=remaining)
        if scheme == "https":  # connect to the checked address, verify the certificate's name
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                address,
                port,
                timeout=timeout,
                retries=False,
                server_hostname=host,
                assert_hostname=host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
        host_header = host if port in (80, 443) else f"{host}:{port}"
        try:
            return pool.urlopen(
                "GET",
                path,
                headers={"Host": host_header, "User-Agent": USER_AGENT, "Accept": "image/*"},
                redirect=False,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as error:
            raise UrlFetchFailed(f"could not fetch {url}: {type(error).__name__}") from None

    def _read(self, response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise too_many_bytes(declared, self.max_bytes)
        body = bytearray()
        try:
            for chunk in response.stream(CHUNK):
                body.extend(chunk)
                if len(body) > self.max_bytes:
                    raise too_many_bytes(f"over {megabytes(self.max_bytes)}", self.max_bytes)
                if time.monotonic() > deadline:
                    raise UrlFetchFailed(f"the download took longer than {self.timeout_s}s")
        except urllib3.exceptions.HTTPError as error:
            raise UrlFetchFailed(f"the download failed: {type(error).__name__}") from None
        return bytes(body)
