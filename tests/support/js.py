"""Call a function of one of the page's ES modules with Node, for tests of pure page logic.

Only modules that touch no DOM at import (``messages.js``, ``export.js``) can be loaded so.
Tests that use it are skipped where Node is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

FRONTEND_JS = Path(__file__).resolve().parents[2] / "frontend" / "js"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")

_RUNNER = """
import { readFileSync } from "node:fs";
const { module, name, args } = JSON.parse(readFileSync(0, "utf8"));
const result = (await import(module))[name](...args);
process.stdout.write(JSON.stringify(result ?? null));
"""


def call(module: str, name: str, *args: Any) -> Any:
    """``name(*args)`` exported by ``frontend/js/<module>``, its result as JSON."""
    assert NODE is not None
    request = {"module": (FRONTEND_JS / module).as_uri(), "name": name, "args": list(args)}
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", _RUNNER],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)
