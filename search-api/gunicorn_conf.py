"""gunicorn settings for the search API: I/O bound (encoder and Milvus calls), so threads."""

import os

# gunicorn calls these hooks; importing sets up one metrics folder for all workers.
from services.gunicorn_hooks import child_exit, on_exit  # noqa: F401

bind = os.environ.get("SEARCH_API_BIND", "0.0.0.0:5000")
workers = int(os.environ.get("SEARCH_API_WORKERS", "2"))
threads = int(os.environ.get("SEARCH_API_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("SEARCH_API_WORKER_TIMEOUT_S", "60"))
graceful_timeout = 20
keepalive = 5
# gunicorn's maximum, above the app's URL limit (services/errors.py), so an over-long URL gets
# the app's JSON 414 instead of gunicorn's HTML one. A literal: importing services.errors here
# would create the metrics before gunicorn_hooks sets their folder.
limit_request_line = 8190
accesslog = "-"
access_log_format = '{"access": "%(m)s %(U)s", "status": %(s)s, "ms": %(M)s, "bytes": %(B)s}'
