"""Over-long URLs through the real gunicorn config: the app's JSON 414, not gunicorn's HTML."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.errors import MAX_URL_CHARS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module", params=["search-api/gunicorn_conf.py", "encoder/gunicorn_conf.py"])
def served(request, tmp_path_factory):
    port = free_port()
    env = {**os.environ, "SEARCH_API_WORKERS": "1", "ENCODER_WORKERS": "1"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path_factory.mktemp("metrics"))
    command = [sys.executable, "-m", "gunicorn", "-c", request.param, "-b", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*command, "tests.support.errors_app:create()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while get(port, "/echo")[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def get(port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    """A raw HTTP/1.1 GET (any target length), as (status, headers, body)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    except OSError:
        return 0, {}, b""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("length", [MAX_URL_CHARS + 1, 8150])
def test_a_long_url_gets_the_json_414(served, length):
    target = "/echo?q=" + "a" * (length - len("/echo?q="))
    status, headers, body = get(served, target)
    assert status == 414 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "uri_too_long"


@pytest.mark.parametrize("length", [5000, MAX_URL_CHARS])  # 5000: over gunicorn's default
def test_a_url_up_to_the_limit_is_served(served, length):
    assert get(served, "/echo?q=" + "a" * (length - len("/echo?q=")))[0] == 200
