"""No orphans: when the process that started Milvus Lite dies, even by SIGKILL, Milvus stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from scripts.stack.local import python_env

pytestmark = pytest.mark.integration

LAUNCHER = """
import sys, time
from pathlib import Path
from scripts.stack.local import LocalStack
stack = LocalStack(Path(sys.argv[1]), Path(sys.argv[1]))
stack.start_milvus()
print(stack.processes["milvus"].process.pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split()[2] != "Z"


def test_milvus_child_dies_with_a_killed_launcher(tmp_path):
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    try:
        milvus_pid = int(launcher.stdout.readline())
        assert alive(milvus_pid)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(10)
        deadline = time.monotonic() + 15
        while alive(milvus_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(milvus_pid), "Milvus Lite outlived its launcher"
    finally:
        launcher.kill()
