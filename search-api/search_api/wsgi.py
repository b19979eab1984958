"""gunicorn entry point: ``gunicorn -c search-api/gunicorn_conf.py search_api.wsgi:app``."""

from search_api.app import create_app

app = create_app()
