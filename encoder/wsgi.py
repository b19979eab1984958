"""gunicorn entry point: ``gunicorn -c encoder/gunicorn_conf.py encoder.wsgi:app``."""

from encoder.app import create_app

app = create_app()
