"""Settings are checked when a service starts: a value outside its choices, or a prefixed
variable that nothing reads (a typo), stops it with the variable's name; gunicorn's settings go
through the same classes; the README's table lists every variable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from encoder.config import ENCODER_CLASSES, EncoderSettings, load_settings
from search_api.config import SearchApiSettings
from search_api.config import load_settings as load_search_api_settings
from services.settings import (
    COMPOSE_VARIABLES,
    MilvusSettings,
    SearchApiServerSettings,
    SettingsError,
    StorageSettings,
    variables_of,
)

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = ("ENCODER_", "SEARCH_API_", "MILVUS_")
ALL_CLASSES = (*ENCODER_CLASSES, SearchApiSettings, SearchApiServerSettings, MilvusSettings)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith(PREFIXES):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_start(clean_environment):
    assert load_settings(EncoderSettings).arch == "resnet152"
    assert load_search_api_settings().milvus.index_type == "HNSW"


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("ENCODER_ARCH", "resnet", "auto or one of efficientnet_lite0, resnet152"),
        ("ENCODER_BACKEND", "gpu", "'auto', 'torch' or 'onnx'"),
        ("ENCODER_WEIGHTS", "pretrained", "'auto', 'imagenet' or 'random'"),
        ("ENCODER_DEVICE", "gpu0", "auto, cpu, cuda or cuda:N"),
        ("ENCODER_DECODE", "nvjpeg", "'auto', 'tensor' or 'pillow'"),
    ],
)
def test_a_bad_encoder_value_names_the_variable_and_the_choices(
    clean_environment, variable, value, allowed
):
    clean_environment.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings(EncoderSettings)
    assert f"{variable}={value!r}" in str(error.value)
    assert allowed in str(error.value)


def test_a_bad_index_type_names_milvus_index_type(clean_environment):
    clean_environment.setenv("MILVUS_INDEX_TYPE", "hnsw")  # any case, as Milvus takes it
    assert load_search_api_settings().milvus.index_type == "HNSW"
    clean_environment.setenv("MILVUS_INDEX_TYPE", "DISKANN")
    with pytest.raises(SettingsError, match=r"MILVUS_INDEX_TYPE='DISKANN'.*'HNSW', 'IVF_FLAT'"):
        load_search_api_settings()


def test_a_mistyped_encoder_variable_stops_the_encoder(clean_environment):
    # the clients' and compose's ENCODER_* variables are known; a typo is not
    for name, value in [("ENCODER_URL", "http://x:1"), ("ENCODER_REPLICAS", "3")]:
        clean_environment.setenv(name, value)
    assert load_settings(EncoderSettings).arch == "resnet152"
    clean_environment.setenv("ENCODER_ARHC", "efficientnet_lite0")
    with pytest.raises(SettingsError, match=r"ENCODER_ARHC \(did you mean ENCODER_ARCH\?\)"):
        load_settings(EncoderSettings)


def test_a_mistyped_search_api_or_milvus_variable_stops_the_search_api(clean_environment):
    clean_environment.setenv("ENCODER_ANYTHING", "1")  # the encoder's prefix: not judged here
    clean_environment.setenv("SEARCH_API_WORKER_TIMEOUT_S", "30")  # gunicorn's: known
    assert load_search_api_settings()
    clean_environment.setenv("SEARCH_API_WRITEKEY", "secret")
    clean_environment.setenv("MILVUS_COLECTION", "cats")
    with pytest.raises(SettingsError) as error:
        load_search_api_settings()
    assert "SEARCH_API_WRITEKEY (did you mean SEARCH_API_WRITE_KEY?)" in str(error.value)
    assert "MILVUS_COLECTION (did you mean MILVUS_COLLECTION?)" in str(error.value)
    assert "secret" not in str(error.value)  # names, never values, of unknown variables


def gunicorn_settings(conf: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Read a gunicorn_conf.py as gunicorn does, in a child: it sets the metrics folder."""
    keys = ("bind", "workers", "threads", "timeout")
    code = (
        f"import runpy, json; ns = runpy.run_path({str(ROOT / conf)!r}); "
        f"print(json.dumps({{k: ns[k] for k in {keys!r}}}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("conf", "prefix", "threads"),
    [
        ("encoder/gunicorn_conf.py", "ENCODER_", "HTTP_THREADS"),
        ("search-api/gunicorn_conf.py", "SEARCH_API_", "THREADS"),
    ],
)
def test_gunicorn_reads_the_typed_settings(conf, prefix, threads):
    env = {
        f"{prefix}BIND": "127.0.0.1:9",
        f"{prefix}WORKERS": "3",
        f"{prefix}{threads}": "5",
        f"{prefix}WORKER_TIMEOUT_S": "33",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'search-api'}",
    }
    done = gunicorn_settings(conf, env)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip() == '{"bind": "127.0.0.1:9", "workers": 3, "threads": 5, "timeout": 33}'
    )
    bad = gunicorn_settings(conf, {**env, f"{prefix}WORKERS": "0"})
    assert bad.returncode != 0 and f"{prefix}WORKERS='0'" in bad.stderr


def test_the_readme_lists_every_variable_and_compose_reads_only_known_ones():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") : readme.index("## Tests")]
    read = set().union(*(variables_of(cls) for cls in ALL_CLASSES)) | variables_of(StorageSettings)
    read -= {"SEARCH_API_MILVUS", "SEARCH_API_ENCODER"}  # nested classes, read by their own
    missing = sorted(name for name in read if not re.search(rf"`{name}`", table))
    assert not missing, f"not in README, Configuration: {missing}"
    compose = "".join(path.read_text() for path in ROOT.glob("docker-compose*.yml"))
    used = set(re.findall(r"\$\{((?:ENCODER|SEARCH_API|MILVUS)_[A-Z0-9_]+)", compose))
    assert used and used <= read | COMPOSE_VARIABLES, sorted(used - read - COMPOSE_VARIABLES)
