"""Start, watch and stop the local stack: Milvus (Lite or the server binary), encoder, search API.

Used by ``scripts/up.py`` (the one command of the README) and by the integration tests, so the
tests run the very processes a user runs. Every child gets ``PR_SET_PDEATHSIG``: if this
process dies, even by SIGKILL, the kernel stops its children, so no Milvus is left orphaned.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

import services  # noqa: F401 - turns gRPC's fork handlers off: we fork after pymilvus ran

REPO_ROOT = Path(__file__).resolve().parents[2]
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the parent (this process) dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment children run in: this interpreter's, with the repo's packages importable."""
    env = dict(os.environ)
    paths = [str(REPO_ROOT), str(REPO_ROOT / "search-api")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    log_start: int = 0  # where this run's output begins in the log, which earlier runs share

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the child
        self.log_start = log_file.seek(0, os.SEEK_END)
        self.process = subprocess.Popen(
            self.command,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # its own process group: stop() reaches gunicorn's workers
        )
        log_file.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.running:
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` this run wrote (not an earlier run's, which would mislead)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_start)
                text = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited while starting:\n{self.log_tail()}")
            if check():
                return
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} not {what} after {timeout:.0f}s:\n{self.log_tail()}")


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(url, timeout=2).ok
        except requests.RequestException:
            return False

    return check


def milvus_answers(uri: str) -> Callable[[], bool]:
    """Milvus answers a gRPC call (its port opens before it can serve)."""

    def check() -> bool:
        from pymilvus import MilvusClient

        try:
            client = MilvusClient(uri=uri, timeout=2, dedicated=True)
        except Exception:  # refused, or not ready: pymilvus raises several kinds
            return False
        try:
            client.list_collections()
            return True
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                client.close()

    return check


@dataclass
class LocalStack:
    """The three processes on loopback. Ports default to free ones; data goes to ``workdir``."""

    workdir: Path
    dataset_root: Path
    encoder_env: dict[str, str] = field(default_factory=dict)
    api_env: dict[str, str] = field(default_factory=dict)
    milvus_port: int = 0
    encoder_port: int = 0
    api_port: int = 0
    api_host: str = "127.0.0.1"  # the encoder always stays on loopback
    external_milvus_uri: str | None = None  # a Milvus already running (standalone); not started
    milvus_backend: str = "lite"  # "lite": Milvus Lite; "server": the Milvus server binary
    milvus_settings: list[str] = field(default_factory=list)  # server only: key=value overrides
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.milvus_port = self.milvus_port or free_port()
        self.encoder_port = self.encoder_port or free_port()
        self.api_port = self.api_port or free_port()

    @property
    def milvus_uri(self) -> str:
        return self.external_milvus_uri or f"http://127.0.0.1:{self.milvus_port}"

    @property
    def encoder_url(self) -> str:
        return f"http://127.0.0.1:{self.encoder_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _process(self, name: str, command: list[str], env: dict[str, str]) -> ManagedProcess:
        process = ManagedProcess(
            name, command, python_env(env), self.workdir / "logs" / f"{name}.log"
        )
        self.processes[name] = process
        return process

    def milvus_command(self) -> list[str]:
        if self.milvus_backend == "server":
            settings = [arg for setting in self.milvus_settings for arg in ("--set", setting)]
            return [
                *(sys.executable, "-m", "scripts.stack.milvus_server"),
                *("--data-dir", str(self.workdir / "milvus-server")),
                *("--port", str(self.milvus_port), *settings),
            ]
        if self.milvus_backend != "lite":
            raise ValueError(f"unknown Milvus backend {self.milvus_backend!r}: lite or server")
        return [
            *(sys.executable, "-m", "milvus_lite", "server"),
            *("--data-dir", str(self.workdir / "milvus")),
            *("--host", "127.0.0.1", "--port", str(self.milvus_port)),
        ]

    def start_milvus(self, timeout: float = 120) -> None:
        if self.external_milvus_uri:
            return
        process = self._process("milvus", self.milvus_command(), {})
        process.start()
        process.wait_until(milvus_answers(self.milvus_uri), timeout, "answering")

    def start_encoder(self, timeout: float = 300) -> None:
        process = self._process(
            "encoder",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "encoder/gunicorn_conf.py",
                "--bind",
                f"127.0.0.1:{self.encoder_port}",
                "encoder.wsgi:app",
            ],
            self.encoder_env,
        )
        process.start()
        process.wait_until(http_ok(f"{self.encoder_url}/readyz"), timeout, "ready")

    def start_api(self, timeout: float = 60) -> None:
        env = {
            "MILVUS_URI": self.milvus_uri,
            "ENCODER_URL": self.encoder_url,
            "SEARCH_API_DATASET_ROOT": str(self.dataset_root),
            "SEARCH_API_THUMB_CACHE_DIR": str(self.workdir / "thumbs"),
            "SEARCH_API_LIBRARY_DIR": str(self.workdir / "library"),
            **self.api_env,
        }
        process = self._process(
            "search-api",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "search-api/gunicorn_conf.py",
                "--bind",
                f"{self.api_host}:{self.api_port}",
                "search_api.wsgi:app",
            ],
            env,
        )
        process.start()
        process.wait_until(http_ok(f"{self.api_url}/healthz"), timeout, "answering")

    def start(self) -> LocalStack:
        self.start_milvus()
        self.start_encoder()
        self.start_api()
        return self

    def ingest_args(self, *extra: str, root: Path | None = None) -> list[str]:
        """Arguments of an ingest into this stack (of ``root``, by default its dataset)."""
        return [
            str(root or self.dataset_root),
            "--encoder-url",
            self.encoder_url,
            "--milvus-uri",
            self.milvus_uri,
            "--library",
            str(self.workdir / "library"),
            *extra,
        ]

    def stop(self) -> None:
        for name in ("search-api", "encoder", "milvus"):  # reverse order of start
            if name in self.processes:
                self.processes[name].stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
