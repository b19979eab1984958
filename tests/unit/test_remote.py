"""Search by URL: only public addresses, every redirect hop checked, size and time capped."""

from __future__ import annotations

import http.server
import ipaddress
import threading

import pytest

from search_api.remote import UrlFetcher, UrlFetchFailed, UrlRefused, is_public
from services.imaging import ImageTooLarge
from tests.support.synthetic import jpeg_bytes

PHOTO = jpeg_bytes(5)


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {
        "/dog.jpg": (200, {"Content-Type": "image/jpeg"}, PHOTO),
        "/hop": (302, {"Location": "/dog.jpg"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/to-private": (301, {"Location": "http://10.1.2.3/x.jpg"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/missing": (404, {}, b"nope"),
        "/huge": (200, {"Content-Type": "image/jpeg"}, b"\xff" * 300_000),
    }

    def do_GET(self):
        self.server.hosts.append(self.headers.get("Host"))
        status, headers, body = self.routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.hosts = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


@pytest.fixture
def fetcher(server):
    """'dogs.test' resolves to the loopback test server, which this fetcher alone treats as
    public; everything else follows the real policy."""

    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "dogs.test" else [host]

    return UrlFetcher(
        timeout_s=5,
        max_bytes=200_000,
        resolver=resolver,
        allowed=lambda address: address.is_loopback or is_public(address),
    )


def url(server, path: str) -> str:
    return f"http://dogs.test:{server.server_port}{path}"


def test_fetches_an_image_and_sends_the_original_host(fetcher, server):
    assert fetcher.fetch(url(server, "/dog.jpg")) == PHOTO
    assert server.hosts[-1] == f"dogs.test:{server.server_port}"


def test_follows_a_safe_redirect(fetcher, server):
    assert fetcher.fetch(url(server, "/hop")) == PHOTO


@pytest.mark.parametrize("path", ["/to-metadata", "/to-private"])
def test_a_redirect_to_a_private_address_is_refused(fetcher, server, path):
    with pytest.raises(UrlRefused) as refused:
        fetcher.fetch(url(server, path))
    assert refused.value.status == 400


def test_redirect_loops_stop(fetcher, server):
    with pytest.raises(UrlFetchFailed, match="redirects"):
        fetcher.fetch(url(server, "/loop"))


def test_http_errors_and_size_cap(fetcher, server):
    with pytest.raises(UrlFetchFailed, match="404"):
        fetcher.fetch(url(server, "/missing"))
    with pytest.raises(ImageTooLarge):
        fetcher.fetch(url(server, "/huge"))


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "ftp://example.com/dog.jpg",
        "gopher://127.0.0.1:6379/_INFO",
        "http:///no-host",
        "http://127.0.0.1/dog.jpg",
        "http://127.1/dog.jpg",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.8/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://2130706433/",  # 127.0.0.1 written as one decimal number
    ],
)
def test_the_real_policy_refuses_non_public_targets(target):
    with pytest.raises(UrlRefused) as refused:
        UrlFetcher(timeout_s=2).fetch(target)
    assert refused.value.status == 400 and refused.value.code == "url_not_allowed"


@pytest.mark.parametrize(
    "target",
    [
        "http://user:secret@example.com/dog.jpg",
        "https://user@example.com/dog.jpg",
        "https://:secret@example.com/dog.jpg",
    ],
)
def test_a_url_with_a_user_or_password_is_refused_for_that_reason(target):
    with pytest.raises(UrlRefused) as refused:
        UrlFetcher(timeout_s=2, resolver=lambda host, port: ["93.184.216.34"]).fetch(target)
    assert refused.value.status == 400 and refused.value.code == "url_credentials"
    assert refused.value.message == "URLs with a user name or password are not fetched"


def test_public_addresses_pass_the_policy():
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert is_public(ipaddress.ip_address("2606:2800:220:1::1"))
    assert not is_public(ipaddress.ip_address("::ffff:10.0.0.1"))
