"""gunicorn settings for the search API, from :class:`services.settings.SearchApiServerSettings`:
I/O bound (encoder and Milvus calls), so threads."""

# gunicorn calls these hooks; importing sets up one metrics folder for all workers.
from services.gunicorn_hooks import child_exit, on_exit  # noqa: F401, I001

from services.settings import SearchApiServerSettings, from_environment

# A bad value stops the start here; each worker's app also refuses unknown SEARCH_API_* and
# MILVUS_* variables.
_server = from_environment(SearchApiServerSettings)
bind = _server.bind
workers = _server.workers
threads = _server.threads
worker_class = "gthread"
timeout = _server.worker_timeout_s
graceful_timeout = 20
keepalive = 5
# gunicorn's maximum, above the app's URL limit (services/errors.py), so an over-long URL gets
# the app's JSON 414 instead of gunicorn's HTML one. A literal: importing services.errors here
# would create the metrics before gunicorn_hooks sets their folder.
limit_request_line = 8190
accesslog = "-"
access_log_format = '{"access": "%(m)s %(U)s", "status": %(s)s, "ms": %(M)s, "bytes": %(B)s}'
