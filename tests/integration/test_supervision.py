"""No orphans: when the process that started Milvus dies, even by SIGKILL, Milvus stops. On
the server backend the engine is a grandchild (``scripts/stack/milvus_server.py`` runs it), so
every process of Milvus's process group is checked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.stack.local import python_env
from tests.support.stack import milvus_backend

pytestmark = [pytest.mark.integration, pytest.mark.milvus]

LAUNCHER = """
import sys, time
from pathlib import Path
from scripts.stack.local import LocalStack
stack = LocalStack(Path(sys.argv[1]), Path(sys.argv[1]), milvus_backend=sys.argv[2])
stack.start_milvus()
print(stack.processes["milvus"].process.pid, flush=True)  # its own process group
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split()[2] != "Z"


def group_members(group: int) -> set[int]:
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.add(int(stat.parent.name))
    return members


def test_milvus_dies_with_a_killed_launcher(tmp_path):
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(tmp_path), milvus_backend()],
        stdout=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    try:
        group = int(launcher.stdout.readline())
        members = group_members(group)
        assert group in members and all(alive(pid) for pid in members)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(10)
        deadline = time.monotonic() + 40
        while any(alive(pid) for pid in members) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = [pid for pid in members if alive(pid)]
        assert not survivors, f"Milvus ({milvus_backend()}) outlived its launcher: {survivors}"
    finally:
        launcher.kill()
