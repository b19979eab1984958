"""gunicorn settings for the encoder. One worker per model copy; threads decode in parallel.

No ``preload_app``: CUDA does not survive a fork, so each worker loads its own model.
"""

import os
import shutil
import tempfile

bind = os.environ.get("ENCODER_BIND", "0.0.0.0:8001")
workers = int(os.environ.get("ENCODER_WORKERS", "1"))
threads = int(os.environ.get("ENCODER_HTTP_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("ENCODER_WORKER_TIMEOUT_S", "120"))  # ResNet-152 loads slowly on CPU
graceful_timeout = 20
keepalive = 5
preload_app = False
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
