"""gunicorn settings for the encoder. One worker per model copy; threads decode in parallel.

No ``preload_app``: CUDA does not survive a fork, so each worker loads its own model.
"""

import os

# gunicorn calls these hooks; importing sets up one metrics folder for all workers.
from services.gunicorn_hooks import child_exit, on_exit  # noqa: F401

bind = os.environ.get("ENCODER_BIND", "0.0.0.0:8001")
workers = int(os.environ.get("ENCODER_WORKERS", "1"))
threads = int(os.environ.get("ENCODER_HTTP_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("ENCODER_WORKER_TIMEOUT_S", "120"))  # ResNet-152 loads slowly on CPU
graceful_timeout = 20
keepalive = 5
# gunicorn's maximum, above the app's URL limit (services/errors.py), so an over-long URL gets
# the app's JSON 414 instead of gunicorn's HTML one. A literal: importing services.errors here
# would create the metrics before gunicorn_hooks sets their folder.
limit_request_line = 8190
preload_app = False
accesslog = "-"
access_log_format = '{"access": "%(m)s %(U)s", "status": %(s)s, "ms": %(M)s, "bytes": %(B)s}'
