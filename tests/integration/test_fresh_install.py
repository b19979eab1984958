"""The search API's requirements alone are enough to build and serve it (as in its image).

A fresh virtualenv gets only ``search-api/requirements.txt``, exactly what
``search-api/Dockerfile`` installs; the app factory must then import, build and answer
``/healthz``. (The encoder's requirements pull 5 GB of torch; their coverage is checked
statically in ``tests/unit/test_deployment.py``.)
"""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

PROBE = """
from search_api.app import create_app
from search_api.config import SearchApiSettings
app = create_app(SearchApiSettings())
response = app.test_client().get("/healthz")
assert response.status_code == 200, response.data
import sys
assert "torch" not in sys.modules
print("ok", sorted(rule.rule for rule in app.url_map.iter_rules())[:3])
"""


def test_search_api_runs_from_its_own_requirements(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", ROOT / "search-api/requirements.txt"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'search-api'}",
        "MILVUS_URI": "http://127.0.0.1:9",  # nothing listens: the app must still build
        "HOME": str(tmp_path),
    }
    probe = subprocess.run(
        [python, "-c", PROBE], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert probe.stdout.startswith("ok")
