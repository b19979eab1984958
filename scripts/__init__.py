"""Command-line entry points by role: jobs, training, bench and stack.

Run one as `python -m scripts.<role>.<name>`, e.g. `python -m scripts.jobs.ingest --help`.
"""
