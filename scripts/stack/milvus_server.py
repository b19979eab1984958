"""Run a real Milvus server (the C++ standalone engine from PyPI's ``milvus`` wheel) in the
foreground: the ``server`` backend of ``make up`` and of the tests.

    python -m scripts.stack.milvus_server --data-dir D --port P [--set proxy.timeTickInterval=2000]

The wheel's own launcher (``milvus-server``) leaves the server process running when the
launcher gets SIGTERM. This one stops the server on SIGTERM or SIGINT (also the signal the
kernel sends when the process that started it dies, see ``scripts.stack.local``), giving it
time to shut down cleanly, so a supervised stack never leaves a Milvus behind.

The server is Milvus 2.3.5 (embedded etcd, local storage, rocksmq): the same C++ engine family
and gRPC API as the production standalone (v2.6), including its semantics that Milvus Lite does
not have: consistency levels, asynchronous index builds, state kept across restarts.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

STOP_TIMEOUT_S = 30.0


def parse_setting(text: str) -> tuple[str, object]:
    """``key.sub=value`` with int, float and bool values recognised."""
    key, _, raw = text.partition("=")
    if not key or not raw:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    value: object = raw
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                continue
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=19530, help="the gRPC port clients use")
    parser.add_argument("--set", type=parse_setting, action="append", default=[])
    args = parser.parse_args(argv)

    from milvus import MilvusServer, MilvusServerConfig  # the wheel; only this backend needs it

    server = MilvusServer(MilvusServerConfig(), wait_for_started=False)
    server.set_base_dir(str(args.data_dir.resolve()))
    server.listen_port = args.port
    for key, value in args.set:
        server.config.set(key, value)
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    process = server.server_proc
    print(f"milvus server pid {process.pid} on 127.0.0.1:{args.port}", flush=True)
    try:
        while not stopping and process.poll() is None:
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except Exception:
                process.kill()
                process.wait(5)
        server.server_proc = None  # already stopped; the wheel's stop() must not kill again
        server.stop()
    return 0 if stopping else (process.returncode or 1)


if __name__ == "__main__":
    sys.exit(main())
