"""``make up`` (scripts/stack/up.py): a second instance, or a taken port, is refused at once and
touches nothing; the URL comes before the ingest; the console stays for people, the ingest's JSON
lines go to its log file; a folder too big for Milvus Lite is pointed at the server; Ctrl-C ends
with "stopped".

Every test picks free ports and its own data folder: none assumes 5000, 8001 or 19530 free."""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from scripts.jobs import download_stanford_dogs, ingest, ingester
from scripts.stack import up
from scripts.stack.local import LocalStack, ManagedProcess, free_port, python_env
from scripts.stack.preflight import InstanceLock, port_free
from tests.support.stack import make_stack, milvus_backend
from tests.support.synthetic import make_dataset

pytestmark = pytest.mark.integration

PORT_FLAGS = ("--port", "--encoder-port", "--milvus-port")  # UI, encoder, Milvus
ENCODER_ENV = {"ENCODER_ARCH": "efficientnet_lite0", "ENCODER_THREADS": "2"}
REFUSAL_S = 3.0  # "at once": parsing, a lock and three binds
RUNNING_LOG = "the running instance's Milvus log\n"
HOLD_LOCK = """
import sys, time
from pathlib import Path
from scripts.stack.preflight import InstanceLock
InstanceLock(Path(sys.argv[1])).acquire(sys.argv[2])
print("locked", flush=True)
time.sleep(60)
"""


def distinct_free_ports(count: int = 3) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@pytest.fixture
def images(tmp_path) -> Path:
    return make_dataset(tmp_path / "dataset", per_breed=2)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data folder as a running instance leaves it: with a Milvus log to keep intact."""
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "milvus.log").write_text(RUNNING_LOG)
    return data


@pytest.fixture
def nothing_may_start(monkeypatch) -> None:
    """A refusal must come before any process, download or ingest."""

    def forbidden(*_, **__):
        raise AssertionError("make up went on after it should have refused")

    monkeypatch.setattr(up, "LocalStack", forbidden)
    monkeypatch.setattr(ingest, "main", forbidden)
    monkeypatch.setattr(download_stanford_dogs, "main", forbidden)


def up_args(images: Path, data: Path, ports: list[int]) -> list[str]:
    ui, encoder, milvus = ports
    return [
        *("--images", str(images), "--data-dir", str(data)),
        *("--port", str(ui), "--encoder-port", str(encoder), "--milvus-port", str(milvus)),
    ]


def timed_main(argv: list[str]) -> tuple[int, float]:
    started = time.monotonic()
    code = up.main(argv)
    return code, time.monotonic() - started


def assert_untouched(data: Path) -> None:
    assert (data / "logs" / "milvus.log").read_text() == RUNNING_LOG
    assert sorted(path.name for path in data.rglob("*")) == [".up.lock", "logs", "milvus.log"]


def test_a_second_instance_on_the_same_data_folder_is_refused_at_once(
    images, data_dir, capsys, nothing_may_start
):
    holder = subprocess.Popen(  # stands for the running instance
        [sys.executable, "-c", HOLD_LOCK, str(data_dir), "http://localhost:5555"],
        stdout=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, seconds = timed_main(up_args(images, data_dir, distinct_free_ports()))
    finally:
        holder.kill()
        holder.wait(10)
    error = capsys.readouterr().err
    assert code == 1
    assert seconds < REFUSAL_S
    assert "already running" in error and f"pid {holder.pid}" in error
    assert "http://localhost:5555" in error and "Ctrl-C" in error
    assert_untouched(data_dir)


@pytest.mark.parametrize("flag", PORT_FLAGS)
def test_a_taken_port_is_refused_naming_its_holder_and_the_flag(
    images, data_dir, capsys, nothing_may_start, flag
):
    ports = dict(zip(PORT_FLAGS, distinct_free_ports(), strict=True))
    with socket.socket() as listener:  # another program on the port
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        ports[flag] = listener.getsockname()[1]
        code, seconds = timed_main(up_args(images, data_dir, list(ports.values())))
    error = capsys.readouterr().err
    assert code == 1
    assert seconds < REFUSAL_S
    assert f"port {ports[flag]}" in error and f"pid {os.getpid()}" in error
    assert f'make up ARGS="{flag} ' in error
    assert error.count("error:") == 1  # the other two ports are free
    assert_untouched(data_dir)
    InstanceLock(data_dir).acquire("http://localhost:1").release()  # a refusal keeps no lock


def test_ingest_logs_go_to_its_log_file_not_the_console(tmp_path, capsys, monkeypatch):
    """Ingest logs JSON lines to stderr (right for a job); under make up (``--log-file``) they
    go to logs/ingest.log, the console says where, and make up's own logging is given back."""

    def run_that_warns(args) -> int:
        logging.getLogger("services.vectorstore").warning("lost", extra={"collection": ""})
        print("6 added, 0 already indexed")
        return 0

    monkeypatch.setattr(ingest, "_run", run_that_warns)
    handlers = logging.getLogger().handlers[:]
    up._ingest(LocalStack(tmp_path, tmp_path), limit=None)
    console = capsys.readouterr()
    assert "{" not in console.out + console.err
    assert "6 added" in console.out and "ingest.log" in console.err
    assert '"collection": ""' in (tmp_path / "logs" / "ingest.log").read_text()
    assert logging.getLogger().handlers == handlers


def test_an_ingest_that_only_reports_progress_is_not_called_a_warning(
    tmp_path, capsys, monkeypatch
):
    def run_that_informs(args) -> int:
        logging.getLogger("scripts.jobs.ingest").info("ingest finished", extra={"added": 6})
        return 0

    monkeypatch.setattr(ingest, "_run", run_that_informs)
    assert up._ingest(LocalStack(tmp_path, tmp_path), limit=None)
    assert "ingest finished" in (tmp_path / "logs" / "ingest.log").read_text()
    assert "warning" not in capsys.readouterr().err


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.milvus
def test_the_ingest_under_up_writes_its_json_lines_to_ingest_log(
    images, tmp_path, capsys, monkeypatch
):
    """The ingest log of make up holds the start, progress and the finished summary with its
    counts (it stayed empty through a whole ingest); the console keeps the bar and summary."""
    monkeypatch.setattr(ingester, "PROGRESS_LOG_S", 0.0)  # a progress line for every batch
    with make_stack(tmp_path / "data", images, encoder_env=ENCODER_ENV) as stack:
        up._ingest(stack, limit=None)
    console = capsys.readouterr()
    assert "6 added" in console.out and '{"' not in console.out + console.err
    lines = log_lines(tmp_path / "data" / "logs" / "ingest.log")
    assert all(line["service"] == "ingest" and line["time"] for line in lines)
    by_message = {line["message"]: line for line in lines}
    assert by_message["ingest started"]["files"] == 6
    progress = [line for line in lines if line["message"] == "ingest progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"] == 6
    finished = by_message["ingest finished"]
    assert (finished["added"], finished["skipped"], finished["failed"]) == (6, 0, 0)
    assert lines[-1] is finished and "warning" not in console.err


class FailingStack:
    """Stands for LocalStack: the first start fails, so make up stops right after its start."""

    def __init__(self, *_, **__) -> None:
        self.processes: dict = {}
        self.workdir = Path("/nonexistent")

    def start_milvus(self) -> None:
        raise RuntimeError("stopped by the test")

    def stop(self) -> None:
        pass


@pytest.mark.parametrize(
    ("milvus", "threshold", "limit", "warned"),
    [
        ("lite", 5, None, True),
        ("lite", 6, None, False),
        ("server", 5, None, False),
        ("lite", 5, 5, False),
    ],
)
def test_a_folder_too_big_for_milvus_lite_is_pointed_at_the_server(
    images, tmp_path, capsys, monkeypatch, milvus, threshold, limit, warned
):
    """6 photos against a threshold of 5 stand for more than 50,000: make up says so before it
    starts anything and suggests the server, but does not switch by itself."""
    monkeypatch.setattr(up, "LITE_MAX_PHOTOS", threshold)
    monkeypatch.setattr(up, "LocalStack", FailingStack)
    argv = [*up_args(images, tmp_path / "data", distinct_free_ports()), "--milvus", milvus]
    assert up.main([*argv, *(["--limit", str(limit)] if limit else [])]) == 1
    out = capsys.readouterr().out
    assert ("make up MILVUS=server" in out) is warned
    if warned:
        assert f"more than {threshold} photos" in out and str(images) in out
        assert out.index("MILVUS=server") < out.index("starting Milvus Lite")


def test_a_failed_start_shows_this_runs_log_not_an_earlier_one(tmp_path):
    log = tmp_path / "search-api.log"
    log.write_text("GET /api/search 200 (an earlier run)\n")
    failing = ManagedProcess(
        "search-api", [sys.executable, "-c", "print('port in use')"], python_env(), log
    )
    failing.start()
    with pytest.raises(RuntimeError) as raised:
        failing.wait_until(lambda: False, timeout=20, what="answering")
    assert "port in use" in str(raised.value) and "earlier run" not in str(raised.value)


class Console:
    """The output of a running ``make up``, read line by line with bounded waits."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, text: str, timeout: float) -> Iterator[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} within {timeout}s:\n" + "\n".join(self.lines[-40:]))


@pytest.mark.milvus
def test_up_runs_refuses_a_second_and_says_stopped_on_ctrl_c(images, tmp_path):
    data, ports = tmp_path / "data", distinct_free_ports()
    env = python_env(ENCODER_ENV)
    command = [sys.executable, "-m", "scripts.stack.up", *up_args(images, data, ports)]
    running = subprocess.Popen(
        [*command, "--milvus", milvus_backend()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    console = Console(running)
    url = f"http://localhost:{ports[0]}"
    try:
        console.until("dogsearch is running:", timeout=240)
        assert url in console.lines[-1]
        assert requests.get(f"http://127.0.0.1:{ports[0]}/", timeout=10).ok  # the page works
        console.until("ports:", timeout=5)
        assert f"UI {ports[0]}, encoder {ports[1]}, Milvus {ports[2]}" in console.lines[-1]
        banner_at = len(console.lines)
        console.until(f"indexed 6 photos; dogsearch is running at {url}", timeout=120)
        ingest = console.lines[banner_at:]
        assert any("6 added" in line for line in ingest[:-1])  # the URL came before the ingest
        assert any("6/6" in line for line in ingest)  # the progress bar, below the URL
        assert '{"' not in "\n".join(console.lines)  # no JSON log line
        milvus_log = (data / "logs" / "milvus.log").read_text()

        started = time.monotonic()
        second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)
        assert time.monotonic() - started < 10  # a whole interpreter, on a busy machine
        assert second.returncode == 1 and f"pid {running.pid}" in second.stderr
        elsewhere = up_args(images, tmp_path / "other", ports)
        third = subprocess.run(
            [*command[:3], *elsewhere], capture_output=True, text=True, env=env, timeout=30
        )
        assert third.returncode == 1 and f"port {ports[0]}" in third.stderr
        assert "gunicorn" in third.stderr and "--port" in third.stderr
        assert (data / "logs" / "milvus.log").read_text().startswith(milvus_log)

        running.send_signal(signal.SIGINT)
        console.until("stopped", timeout=90)
        assert running.wait(30) == 0
        assert console.lines[-2:] == ["stopping ...", "stopped"]
        assert all(port_free(port) for port in ports)
    finally:
        running.kill()
        running.wait(30)
