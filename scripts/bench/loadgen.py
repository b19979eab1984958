"""Latency statistics and a closed-loop load generator, shared by the benchmark and the soak.

A closed loop (each client sends its next request when the previous one is answered) measures
what users feel; requests/s is the throughput the system sustains at that concurrency.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import requests

# A request is a callable taking the client's session and its running request number; it returns
# the endpoint name to file the result under and the response.
Request = Callable[[requests.Session, int], tuple[str, requests.Response]]


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


@dataclass
class LoadResult:
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)  # first few error descriptions

    @property
    def requests(self) -> int:
        return sum(len(times) for times in self.latencies.values())

    @property
    def error_count(self) -> int:
        return sum(
            count
            for counter in self.statuses.values()
            for status, count in counter.items()
            if not (isinstance(status, int) and status < 400)
        )

    def to_dict(self) -> dict:
        return {
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "requests_per_s": round(self.requests / self.seconds, 2) if self.seconds else 0.0,
            "errors": self.error_count,
            "endpoints": {
                name: {
                    **percentiles(times),
                    "requests_per_s": round(len(times) / self.seconds, 2),
                    "statuses": {str(k): n for k, n in self.statuses[name].most_common()},
                }
                for name, times in sorted(self.latencies.items())
            },
            "error_samples": self.errors[:10],
        }


def run_load(
    request: Request,
    *,
    clients: int,
    seconds: float,
    max_requests: int | None = None,
    timeout_s: float = 30.0,
) -> LoadResult:
    """``clients`` threads call ``request`` back to back for ``seconds`` (or ``max_requests``)."""
    result = LoadResult(seconds=seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    budget = [max_requests if max_requests is not None else float("inf")]

    def client(number: int) -> None:
        with requests.Session() as session:
            session.request = _with_timeout(session.request, timeout_s)  # type: ignore[method-assign]
            sent = 0
            while time.monotonic() < deadline:
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                started = time.perf_counter()
                try:
                    name, response = request(session, number * 1_000_000 + sent)
                    status: int | str = response.status_code
                    detail = response.text[:200] if status >= 400 else ""
                except requests.RequestException as error:
                    name, status, detail = "connection", type(error).__name__, str(error)[:200]
                elapsed = time.perf_counter() - started
                sent += 1
                with lock:
                    result.latencies[name].append(elapsed)
                    result.statuses[name][status] += 1
                    if detail and len(result.errors) < 50:
                        result.errors.append(f"{name} {status}: {detail}")

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout_s + 5)
    result.seconds = time.monotonic() - started
    return result


def _with_timeout(send: Callable, timeout_s: float) -> Callable:
    def request(*args, **kwargs):
        kwargs.setdefault("timeout", timeout_s)
        return send(*args, **kwargs)

    return request
