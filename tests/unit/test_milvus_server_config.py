"""The local Milvus server (``make up MILVUS=server``, the benchmarks, the tests) runs with the
settings production's compose mounts (``milvus/user.yaml``), so what is measured here is what
production runs; ``--set`` still wins (the tests slow the tick down on purpose)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("milvus")  # the server wheel: scripts/requirements.txt

from scripts.stack.milvus_server import (
    PRODUCTION_CONFIG,
    config_settings,
    configure,
    make_server,
    template_keys,
)


def written_config(server) -> dict:
    server.config.write_config()
    return yaml.safe_load(
        (Path(server.config.base_data_dir) / "configs" / "milvus.yaml").read_text()
    )


def test_production_settings_are_flattened_to_dotted_keys():
    settings = config_settings(PRODUCTION_CONFIG)
    tree = yaml.safe_load(PRODUCTION_CONFIG.read_text())
    assert settings["proxy.timeTickInterval"] == tree["proxy"]["timeTickInterval"]
    assert settings["proxy.http.enabled"] is tree["proxy"]["http"]["enabled"]
    assert settings["log.level"] == tree["log"]["level"]


def test_the_local_server_runs_with_productions_settings(tmp_path):
    server = make_server(tmp_path, 19530)
    applied, skipped = configure(server, PRODUCTION_CONFIG, [])
    written = written_config(server)
    tick = config_settings(PRODUCTION_CONFIG)["proxy.timeTickInterval"]
    assert written["proxy"]["timeTickInterval"] == tick < 200  # Milvus's default: 200
    assert f"proxy.timeTickInterval={tick}" in applied
    assert written["proxy"]["http"]["enabled"] is False
    assert written["log"]["level"] == "warn"
    assert "log.level=warn" in applied and skipped == []


def test_set_overrides_the_file_and_unknown_keys_are_reported(tmp_path):
    config = tmp_path / "user.yaml"
    config.write_text("proxy:\n  timeTickInterval: 50\nstreaming:\n  onlyInV26: 1\n")
    server = make_server(tmp_path / "data", 19530)
    applied, skipped = configure(server, config, [("proxy.timeTickInterval", 1000)])
    assert written_config(server)["proxy"]["timeTickInterval"] == 1000
    assert applied == ["proxy.timeTickInterval=1000"] and skipped == ["streaming.onlyInV26"]


def test_template_keys_follow_the_nesting():
    keys = template_keys(
        "proxy:\n  http:\n    enabled: true # on\n  port: 1\n# c: 2\nlog:\n  level: info\n"
    )
    assert keys == {"proxy", "proxy.http", "proxy.http.enabled", "proxy.port", "log", "log.level"}
