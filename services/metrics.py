"""Prometheus metrics for both services, served at ``/metrics``.

Request counts and latency by endpoint and status come from Flask hooks; the services observe
their own work (encode time, batch sizes, Milvus time) with the metrics defined here. Under
gunicorn, each worker is a process: ``gunicorn_conf`` sets ``PROMETHEUS_MULTIPROC_DIR`` so
``/metrics`` adds up every worker, whichever one answers the scrape.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "dogsearch_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"]
)
HTTP_SECONDS = Histogram(
    "dogsearch_http_request_seconds", "Time to answer", ["endpoint"], buckets=LATENCY_BUCKETS
)
ERRORS = Counter("dogsearch_errors_total", "Error answers by error code", ["code"])
ENCODE_SECONDS = Histogram(
    "dogsearch_encode_batch_seconds", "Forward pass time per batch", buckets=LATENCY_BUCKETS
)
BATCH_SIZE = Histogram(
    "dogsearch_encode_batch_size", "Images per forward pass", buckets=(1, 2, 4, 8, 16, 32, 64, 128)
)
MILVUS_SECONDS = Histogram(
    "dogsearch_milvus_seconds", "Milvus call time", ["operation"], buckets=LATENCY_BUCKETS
)
ENCODER_CALL_SECONDS = Histogram(
    "dogsearch_encoder_call_seconds",
    "Encoder service call time (search API side)",
    buckets=LATENCY_BUCKETS,
)


def install_metrics(app: Flask) -> None:
    """Time every request and serve ``/metrics`` on ``app``."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if started is not None and endpoint != "/metrics":
            HTTP_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = REGISTRY
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
