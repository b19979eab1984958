"""Closed-loop load by locust, headless, for the benchmark and the soak.

    run_locust("similar", api_url, {"ids": [...]}, clients=20, seconds=10, report_dir=D)

Locust runs as a child process (its gevent must not patch the caller's threads) with the users
of :mod:`scripts.bench.locustfile`; it leaves its CSV and HTML report in ``report_dir``. The
result has the shape the benchmark and the soak have always printed: requests/s, errors,
p50/p95/p99 per endpoint and the status counts, from every request as the locustfile
recorded it.

Locust, not the former hand-written thread pool (``loadgen.run_load``): on this 2-core machine,
where the clients share the CPU with the services they load, its gevent clients cost less
CPU per request than 20 OS threads of ``requests``, so the services get more of the machine;
the numbers are in docs/performance.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.bench.loadgen import percentiles

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
USERS = {"similar": "Similar", "encode": "Encode", "explore": "Explore"}


def run_locust(
    kind: str,
    host: str,
    plan: dict,
    *,
    clients: int,
    seconds: float,
    report_dir: Path | None = None,
    photos: list[bytes] = (),  # type: ignore[assignment]
) -> dict:
    """``clients`` locust users of ``kind`` against ``host`` for ``seconds`` (whole seconds,
    at least one); ``plan`` says what they send (ids, breeds, batch), ``photos`` what they
    upload."""
    report_dir = Path(report_dir or tempfile.mkdtemp(prefix=f"locust-{kind}-"))
    report_dir.mkdir(parents=True, exist_ok=True)
    plan = dict(plan)
    plan["photos"] = []
    for number, photo in enumerate(photos):
        path = report_dir / f"photo-{number}.jpg"
        path.write_bytes(photo)
        plan["photos"].append(str(path))
    plan_path, statuses_path = report_dir / "plan.json", report_dir / "statuses.json"
    plan_path.write_text(json.dumps(plan))
    statuses_path.unlink(missing_ok=True)
    run_s = max(1, round(seconds))
    command = [
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), USERS[kind]),
        *("--headless", "--host", host, "--users", str(clients), "--spawn-rate", str(clients)),
        *("--run-time", f"{run_s}s", "--stop-timeout", "30", "--only-summary"),
        *("--csv", str(report_dir / kind), "--html", str(report_dir / f"{kind}.html")),
        *("--loglevel", "WARNING", "--exit-code-on-error", "0"),
    ]
    env = {
        **os.environ,
        "DOGSEARCH_LOAD_PLAN": str(plan_path),
        "DOGSEARCH_LOAD_STATUSES": str(statuses_path),
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=run_s + 120)
    if done.returncode != 0 or not statuses_path.exists():
        raise RuntimeError(f"locust failed ({done.returncode}): {done.stderr[-2000:]}")
    return summarise(json.loads(statuses_path.read_text()))


def summarise(counted: dict) -> dict:
    """What the locustfile recorded of every request, in the benchmark's JSON shape (the
    seconds are the whole run, from the first user's start to the last answer)."""
    seconds = float(counted["seconds"])
    endpoints = {}
    for name, times in sorted(counted["times_ms"].items()):
        statuses = counted["statuses"].get(name, {})
        endpoints[name] = {
            **percentiles([ms / 1000 for ms in times]),
            "requests_per_s": round(len(times) / seconds, 2) if seconds else 0.0,
            "statuses": dict(sorted(statuses.items(), key=lambda item: -item[1])),
        }
    requests = sum(len(times) for times in counted["times_ms"].values())
    errors = sum(
        count
        for statuses in counted["statuses"].values()
        for status, count in statuses.items()
        if not (status.isdigit() and int(status) < 400)
    )
    return {
        "seconds": round(seconds, 2),
        "requests": requests,
        "requests_per_s": round(requests / seconds, 2) if seconds else 0.0,
        "errors": errors,
        "endpoints": endpoints,
        "error_samples": counted["samples"][:10],
        "load_generator": "locust",
    }
