"""The smallest app with the shared error handling, for gunicorn to serve in a test."""

from __future__ import annotations

from flask import Flask

from services.errors import register_error_handlers


def create() -> Flask:
    app = Flask(__name__)
    register_error_handlers(app)
    app.add_url_rule("/echo", "echo", lambda: {"ok": True})
    return app
