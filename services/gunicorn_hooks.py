"""gunicorn hooks shared by both services: one metrics folder for all workers.

Importing this module (from a ``gunicorn_conf``, in the master, before any worker forks) sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh folder unless it is set already, so every worker writes
its samples there and ``/metrics`` adds them up. It must not import ``prometheus_client`` at the
top: the variable has to be set before the metrics are created.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="dogsearch-metrics-"))


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
