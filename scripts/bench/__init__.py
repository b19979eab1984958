"""Benchmarks and load: encoder, search and ingest speed, concurrent load, soak."""
