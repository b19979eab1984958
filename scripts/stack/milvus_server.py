"""Run a real Milvus server (the C++ standalone engine from PyPI's ``milvus`` wheel) in the
foreground: the ``server`` backend of ``make up`` and of the tests.

    python -m scripts.stack.milvus_server --data-dir D --port P [--set proxy.timeTickInterval=2000]

It runs with the settings production runs with: those of ``milvus/user.yaml`` that Milvus
2.3.5 has (``--config`` names another file); ``--set`` overrides them.

The wheel's own launcher (``milvus-server``) leaves the server process running when the
launcher gets SIGTERM. This one stops the server on SIGTERM or SIGINT (also the signal the
kernel sends when the process that started it dies, see ``scripts.stack.local``), giving it
time to shut down cleanly, so a supervised stack never leaves a Milvus behind.

The server is Milvus 2.3.5 (embedded etcd, local storage, rocksmq): the same C++ engine family
and gRPC API as the production standalone (v2.6), including its semantics that Milvus Lite does
not have: consistency levels, asynchronous index builds, state kept across restarts.

Two things the wheel does not do, and several servers side by side (the tests) or a restart on
the same port need: its embedded etcd always takes ports 2379 and 2380, so this gives it free
ones through an etcd config file; and it checks a port by binding it without SO_REUSEADDR, so a
port just released (TIME_WAIT) looked busy and the server quietly moved to the next one.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import time
from pathlib import Path

import yaml

from scripts.stack.local import free_port

STOP_TIMEOUT_S = 30.0
PRODUCTION_CONFIG = Path(__file__).resolve().parents[2] / "milvus" / "user.yaml"


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


def config_settings(path: Path) -> dict[str, object]:
    """A Milvus config file's settings as dotted keys (``proxy.timeTickInterval``)."""

    def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
        flat: dict[str, object] = {}
        for key, value in tree.items():
            if isinstance(value, dict):
                flat.update(flatten(value, f"{prefix}{key}."))
            else:
                flat[f"{prefix}{key}"] = value
        return flat

    return flatten(yaml.safe_load(path.read_text()) or {})


def template_keys(template: str) -> set[str]:
    """Every dotted key of the wheel's config template: the settings it can take (it ignores
    others, as Milvus 2.3.5 would not know them)."""
    keys, path = set(), []
    for line in template.splitlines():
        name, colon, _ = line.partition(":")
        if not colon or not name.strip() or name.strip().startswith(("#", "-")):
            continue
        level = (len(name) - len(name.lstrip(" "))) // 2
        path = [*path[:level], name.strip()]
        keys.add(".".join(path))
    return keys


def etcd_config(data_dir: Path) -> Path:
    """An embedded-etcd config on free client and peer ports (the wheel's are fixed)."""
    client, peer = free_port(), free_port()
    path = data_dir / "configs" / "etcd.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "name: default\n"
        f"listen-client-urls: http://127.0.0.1:{client}\n"
        f"advertise-client-urls: http://127.0.0.1:{client}\n"
        f"listen-peer-urls: http://127.0.0.1:{peer}\n"
        f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
        f"initial-cluster: default=http://127.0.0.1:{peer}\n"
    )
    return path


def make_server(data_dir: Path, port: int):
    from milvus import MilvusServer, MilvusServerConfig  # the wheel; only this backend needs it

    class Config(MilvusServerConfig):
        def try_bind_port(self, port):  # as the server binds: a port in TIME_WAIT is free
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
                sock.listen()
                return sock
            except OSError:
                sock.close()
                return None

    etcd = etcd_config(data_dir)
    client_port = int(etcd.read_text().split("listen-client-urls: http://127.0.0.1:")[1].split()[0])
    default = Config()
    template = default.template_text.replace(
        "  use:\n    embed: true", f"  config:\n    path: {etcd}\n  use:\n    embed: true", 1
    )
    template_path = data_dir / "configs" / "milvus.yaml.template"
    template_path.write_text(template)
    config = Config(template=str(template_path), proxy_port=port, etcd_port=client_port)
    config.glog_conf_file = default.glog_conf_file  # set only for the wheel's own template
    server = MilvusServer(config, wait_for_started=False)
    server.set_base_dir(str(data_dir))
    return server


def server_settings(config: Path, overrides: list[tuple[str, object]]) -> dict[str, object]:
    """The settings of ``config`` with ``overrides`` over them (none from a missing file: a
    copy without ``milvus/``)."""
    return {**(config_settings(config) if config.is_file() else {}), **dict(overrides)}


def configure(
    server, config: Path, overrides: list[tuple[str, object]]
) -> tuple[list[str], list[str]]:
    """Give ``server`` the settings of ``config`` and then ``overrides``: (``key=value`` of
    those applied, keys the wheel's Milvus 2.3.5 does not have, which it ignores)."""
    known = template_keys(server.config.template_text)
    settings = server_settings(config, overrides)
    for key, value in settings.items():  # YAML's spelling of booleans, not Python's
        server.config.set(key, str(value).lower() if isinstance(value, bool) else value)
    applied = sorted(f"{key}={value}" for key, value in settings.items() if key in known)
    return applied, sorted(key for key in settings if key not in known)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=19530, help="the gRPC port clients use")
    parser.add_argument(
        "--config", type=Path, default=PRODUCTION_CONFIG, help="settings over Milvus's defaults"
    )
    parser.add_argument("--set", type=parse_setting, action="append", default=[])
    args = parser.parse_args(argv)
    if args.config != PRODUCTION_CONFIG and not args.config.is_file():
        parser.error(f"--config {args.config}: no such file")

    if not args.config.is_file():
        print(f"no {args.config}: Milvus's own defaults but for --set", flush=True)
    server = make_server(args.data_dir.resolve(), args.port)
    applied, skipped = configure(server, args.config, args.set)
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    process = server.server_proc
    print(f"milvus server pid {process.pid} on 127.0.0.1:{args.port}", flush=True)
    print(f"settings: {', '.join(applied)}; not in Milvus 2.3.5: {skipped or 'none'}", flush=True)
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
