"""What ``make up`` checks before it starts or touches anything: one instance per data folder,
every port it will listen on free, and (advice only) how many photos the folder holds.

A second ``make up`` used to start anyway: its Milvus failed on the first one's data lock, and
meanwhile it had truncated the running instance's logs and ingested into it (re-adding photos
the user had deleted). Refusing up front, and saying who holds what, is the only safe answer.

The instance lock is an exclusive ``flock`` on ``DATA/.up.lock``: the kernel drops it when the
holder exits, however it exits, so a crash never leaves a stale lock behind. The file holds the
holder's pid and URL, for the refusal message.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import pwd
import socket
from dataclasses import dataclass
from pathlib import Path

from services.dataset import IMAGE_SUFFIXES

LOCK_NAME = ".up.lock"
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp


class AlreadyRunning(RuntimeError):
    """Another process holds the instance lock of this data folder."""

    def __init__(self, data_dir: Path, pid: int | None, url: str | None) -> None:
        known = [f"pid {pid}" if pid else "", url or ""]
        holder = ", ".join(part for part in known if part) or "pid unknown"
        super().__init__(
            f"dogsearch is already running from {data_dir} ({holder}); stop it with Ctrl-C "
            "in its terminal first"
        )
        self.pid, self.url = pid, url


@dataclass
class InstanceLock:
    """The exclusive lock of one data folder; held from :meth:`acquire` until :meth:`release`."""

    data_dir: Path
    fd: int | None = None

    @property
    def path(self) -> Path:
        return self.data_dir / LOCK_NAME

    def acquire(self, url: str) -> InstanceLock:
        """Take the lock and record ``url`` in it, or raise :class:`AlreadyRunning` at once."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # no O_TRUNC: the holder's record
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_record(fd)
            os.close(fd)
            raise AlreadyRunning(self.data_dir, holder.get("pid"), holder.get("url")) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": url}).encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor drops the lock
            self.fd = None


def _read_record(fd: int) -> dict:
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:  # the holder is between truncating and writing
        return {}
    return record if isinstance(record, dict) else {}


def count_photos(root: Path, stop_after: int) -> int:
    """Image files in the breed folders under ``root``, by suffix as the ingest finds them,
    counting no further than ``stop_after``. Names only: no file is opened."""
    count = 0
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        if folder == str(root):
            continue  # the ingest takes files from breed folders only
        count += sum(Path(name).suffix.lower() in IMAGE_SUFFIXES for name in names)
        if count >= stop_after:
            return stop_after
    return count


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    return _bind_error(port, host) is None


def _bind_error(port: int, host: str) -> OSError | None:
    """Why a server could not listen on ``host:port`` now, binding as gunicorn and Milvus do
    (``SO_REUSEADDR``: a port left in TIME_WAIT by a stopped server is free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            return error
    return None


def port_owner(port: int) -> str:
    """Who listens on ``port``, best effort: ``pid 42 (python -m http.server)``, or ``another
    program`` (with its user, when known) when its process cannot be seen, e.g. another user's."""
    inodes, uids = _listening_sockets(port)
    for pid, command in _processes_with_sockets(inodes):
        return f"pid {pid} ({command})" if command else f"pid {pid}"
    for uid in uids:
        with contextlib.suppress(KeyError):
            return f"another program (user {pwd.getpwuid(uid).pw_name})"
    return "another program"


def _listening_sockets(port: int) -> tuple[set[str], list[int]]:
    """Socket inodes and owner uids of the TCP listeners on ``port`` (IPv4 and IPv6)."""
    inodes: set[str] = set()
    uids: list[int] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            listening = len(fields) > 9 and fields[3] == TCP_LISTEN
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
                uids.append(int(fields[7]))
    return inodes, uids


def _processes_with_sockets(inodes: set[str]):
    """``(pid, command line)`` of the processes holding any of these socket inodes."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    if not wanted:
        return
    for proc in Path("/proc").glob("[0-9]*"):
        if wanted & _fd_links(proc):
            yield int(proc.name), _command_line(proc)


def _fd_links(proc: Path) -> set[str]:
    links = set()
    with contextlib.suppress(OSError):  # the process is gone, or is another user's
        for fd in (proc / "fd").iterdir():
            with contextlib.suppress(OSError):  # closed meanwhile
                links.add(os.readlink(fd))
    return links


def _command_line(proc: Path, width: int = 80) -> str:
    try:
        words = proc.joinpath("cmdline").read_bytes().decode().split("\0")
    except (OSError, UnicodeDecodeError):
        return ""
    command = " ".join([Path(words[0]).name, *words[1:]]).strip()  # python, not its venv path
    return command if len(command) <= width else command[: width - 3] + "..."


@dataclass(frozen=True)
class Port:
    """A port ``make up`` will listen on, and the flag that chooses another."""

    number: int
    serves: str
    flag: str
    host: str = "127.0.0.1"


def taken_ports(ports: list[Port]) -> list[str]:
    """One sentence per port that is not free: the port, who holds it, the flag to change it."""
    problems = []
    numbers = [port.number for port in ports]
    for port in ports:
        if numbers.count(port.number) > 1:
            problems.append(f"port {port.number} is given to more than one service ({port.flag})")
            continue
        error = _bind_error(port.number, port.host)
        if error is None:
            continue
        if error.errno == errno.EADDRINUSE:
            why = f"is taken by {port_owner(port.number)}"
        else:
            why = f"cannot be used on {port.host}: {error.strerror}"
        example = _free_after(port.number, port.host, set(numbers))
        problems.append(
            f"port {port.number} ({port.serves}) {why}; choose another with {port.flag}, "
            f'e.g. make up ARGS="{port.flag} {example}"'
        )
    return problems


def _free_after(number: int, host: str, avoid: set[int]) -> int:
    """The next port after ``number`` that is free now, for the example in the message."""
    for candidate in range(number + 1, min(number + 100, 65535)):
        if candidate not in avoid and port_free(candidate, host):
            return candidate
    return number + 1
