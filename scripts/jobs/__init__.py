"""Jobs the product runs: ingest (and re-index) a folder, download Stanford Dogs."""
