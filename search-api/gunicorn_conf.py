"""gunicorn settings for the search API: I/O bound (encoder and Milvus calls), so threads."""

import os
import shutil
import tempfile

bind = os.environ.get("SEARCH_API_BIND", "0.0.0.0:5000")
workers = int(os.environ.get("SEARCH_API_WORKERS", "2"))
threads = int(os.environ.get("SEARCH_API_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("SEARCH_API_WORKER_TIMEOUT_S", "60"))
graceful_timeout = 20
keepalive = 5
accesslog = "-"
access_log_format = '{"access": "%(m)s %(U)s", "status": %(s)s, "ms": %(M)s, "bytes": %(B)s}'


# /metrics adds up all workers: each writes its samples to files in this (fresh) folder.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="dogsearch-metrics-"))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
