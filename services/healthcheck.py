"""Container healthcheck: exit 0 when the URL answers 2xx within the timeout, else 1.

    python -m services.healthcheck http://127.0.0.1:8001/readyz

Slim images have no curl; this needs only the standard library.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    url = args[0] if args else "http://127.0.0.1:5000/healthz"
    timeout = float(args[1]) if len(args) > 1 else 5.0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
