"""Latency statistics shared by the benchmarks. Load itself comes from locust
(:mod:`scripts.bench.locust_run`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean in milliseconds (empty input gives zeros)."""
    if not seconds:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0, "count": 0}
    ms = np.asarray(seconds) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_ms": round(float(p99), 2),
        "mean_ms": round(float(ms.mean()), 2),
        "count": len(ms),
    }


def time_calls(call: Callable[[], object], repeats: int) -> list[float]:
    """Seconds taken by each of ``repeats`` calls, one after another."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times
