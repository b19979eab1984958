"""``/healthz`` (the process answers) and ``/readyz`` (it can do its job) for both services.

Each service passes a ``readiness`` callable that returns ``{check_name: problem-or-None}``;
ready means every check is ``None``. Not ready is a 503 whose body names what is wrong, so
compose healthchecks, load balancers and people read the same answer.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, jsonify

Readiness = Callable[[], dict[str, str | None]]


def health_blueprint(readiness: Readiness) -> Blueprint:
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @blueprint.get("/readyz")
    def readyz():
        checks = readiness()
        problems = {name: problem for name, problem in checks.items() if problem}
        if problems:
            first = next(iter(problems))
            body = {
                "status": "not_ready",
                "checks": {name: problem or "ok" for name, problem in checks.items()},
                "error": {"code": f"{first}_unavailable", "message": problems[first]},
            }
            return jsonify(body), 503
        return jsonify({"status": "ready", "checks": {name: "ok" for name in checks}})

    return blueprint
