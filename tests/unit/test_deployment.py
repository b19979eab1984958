"""The production stack, checked by construction: compose invariants, Dockerfiles, settings.

These tests read docker-compose.yml, the GPU override and the Dockerfiles and assert what
`docker compose up` relies on; ``test_compose_render`` checks what Compose itself renders, and
``make compose-smoke`` runs the stack on a Docker engine.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from encoder.config import EncoderSettings
from scripts.stack import up
from search_api.config import SearchApiSettings
from services.settings import EncoderClientSettings, MilvusSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
GPU = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())
SERVICES = COMPOSE["services"]
LONG_RUNNING = {"etcd", "minio", "milvus", "encoder", "search-api"}
FIRST_PARTY = {"services", "encoder", "search_api", "scripts", "tests"}


def test_the_stack_has_milvus_standalone_encoder_api_and_tool_jobs():
    jobs = {"prepare", "ingest", "download", "finetune", "evaluate"}
    assert set(SERVICES) == LONG_RUNNING | jobs
    for name in SERVICES.keys() - LONG_RUNNING:
        assert SERVICES[name]["profiles"] == ["tools"], name
        assert SERVICES[name]["restart"] == "no", name


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_long_running_services_restart_and_have_healthchecks(name):
    service = SERVICES[name]
    assert service["restart"] == "unless-stopped"
    check = service["healthcheck"]
    assert check["test"][0] == "CMD" and check["retries"] >= 3
    assert "profiles" not in service


def test_startup_order_waits_for_health():
    def waits_for(name):
        return {dep: cond["condition"] for dep, cond in SERVICES[name]["depends_on"].items()}

    healthy, done = "service_healthy", "service_completed_successfully"
    assert waits_for("milvus") == {"etcd": healthy, "minio": healthy}
    assert waits_for("search-api") == {"milvus": healthy, "encoder": healthy}
    assert waits_for("ingest") == {"prepare": done, "milvus": healthy, "encoder": healthy}


def test_images_are_pinned():
    for name, service in SERVICES.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image}"
    assert re.fullmatch(r"milvusdb/milvus:v2\.[56]\.\d+", SERVICES["milvus"]["image"])
    for dockerfile in ("encoder/Dockerfile", "search-api/Dockerfile"):
        base = re.search(r"ARG PYTHON_IMAGE=(\S+)", (ROOT / dockerfile).read_text()).group(1)
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base


def test_ports_volumes_and_mounts():
    assert SERVICES["search-api"]["ports"] == [
        "${SEARCH_API_BIND:-127.0.0.1}:${SEARCH_API_PORT:-5000}:5000"
    ]
    assert SERVICES["search-api"]["environment"]["SEARCH_API_BIND"] == "0.0.0.0:5000"
    assert SERVICES["milvus"]["ports"] == ["127.0.0.1:${MILVUS_PORT:-19530}:19530"]
    assert "ports" not in SERVICES["encoder"]  # internal: only the search API is public
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("./", "${")):
                assert source in declared, f"{name}: undeclared volume {source}"
    assert "/data/stanford-dogs:ro" in " ".join(SERVICES["search-api"]["volumes"])
    assert "./checkpoints:/checkpoints:ro" in SERVICES["encoder"]["volumes"]
    assert "torch-home:/models/torch" in SERVICES["encoder"]["volumes"]
    assert (ROOT / "milvus" / "user.yaml").is_file()


def test_every_published_port_is_on_loopback_by_default():
    for name, service in {**SERVICES, **GPU["services"]}.items():
        for port in service.get("ports", []):
            assert port.startswith(("127.0.0.1:", "${SEARCH_API_BIND:-127.0.0.1}:")), (name, port)


def test_no_default_secrets():
    """MinIO's credentials and the write key have no default: compose refuses without them."""
    texts = {name: (ROOT / name).read_text() for name in ("docker-compose.yml", ".env.example")}
    for name, text in texts.items():
        assert "minioadmin" not in text.lower(), name
    minio, milvus = SERVICES["minio"]["environment"], SERVICES["milvus"]["environment"]
    for variable, holders in {
        "MINIO_ACCESS_KEY": (minio["MINIO_ACCESS_KEY"], milvus["MINIO_ACCESS_KEY_ID"]),
        "MINIO_SECRET_KEY": (minio["MINIO_SECRET_KEY"], milvus["MINIO_SECRET_ACCESS_KEY"]),
        "SEARCH_API_WRITE_KEY": (SERVICES["search-api"]["environment"]["SEARCH_API_WRITE_KEY"],),
    }.items():
        for value in holders:
            assert value.startswith(f"${{{variable}:?"), (variable, value)
        assert re.search(rf"^{variable}=$", texts[".env.example"], flags=re.M), variable


def test_the_gpu_override_reserves_an_nvidia_device_for_existing_services():
    assert set(GPU["services"]) <= set(SERVICES)
    device = GPU["services"]["encoder"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert GPU["services"]["encoder"]["environment"]["ENCODER_DEVICE"] == "cuda"


def test_services_reach_each_other_by_compose_names():
    api_env = SERVICES["search-api"]["environment"]
    assert api_env["MILVUS_URI"] == "http://milvus:19530"
    assert api_env["ENCODER_URL"] == "http://encoder:8001"


def dockerfile_stage(path: str, target: str) -> str:
    text = (ROOT / path).read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)
    chosen = [s for s in stages if re.match(rf"\S+ AS {re.escape(target)}\n", s)]
    assert chosen, f"no stage {target} in {path}"
    return chosen[0]


@pytest.mark.parametrize(
    ("path", "target", "packages"),
    [
        ("encoder/Dockerfile", "encoder", {"services/", "encoder/"}),
        ("encoder/Dockerfile", "tools", {"services/", "encoder/", "scripts/", "search-api/"}),
        ("search-api/Dockerfile", "search-api", {"services/", "search-api/", "frontend/"}),
    ],
)
def test_dockerfiles_copy_what_the_service_imports_and_run_as_non_root(path, target, packages):
    text = (ROOT / path).read_text()
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.M))
    for source in copied:
        assert (ROOT / source).exists(), f"{path} copies missing {source}"
    stage = dockerfile_stage(path, target)
    assert packages <= set(re.findall(r"^COPY (\S+)", stage, flags=re.M))
    assert "USER app" in stage
    if target != "tools":
        assert "HEALTHCHECK" in stage and "services.healthcheck" in stage
    for source in re.findall(r"^COPY (?!--from)(\S+)", stage, flags=re.M):
        assert not re.match(r"(data/stanford-dogs|\.venv|checkpoints)", source)


def test_dockerignore_keeps_the_context_small():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in ("data/*", ".venv", ".git", "checkpoints", "reports", "tests"):
        assert pattern in ignored, pattern
    assert "!data/breeds.txt" in ignored


def requirement_names(path: Path) -> set[str]:
    """Distribution names in a requirements file, following ``-r`` includes."""
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            names |= requirement_names((path.parent / line[3:]).resolve())
        elif line:
            names.add(re.split(r"[=<>!~\[; ]", line)[0].lower().replace("_", "-"))
    return names


def third_party_imports(folders: list[str]) -> set[str]:
    modules: set[str] = set()
    for folder in folders:
        for file in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - FIRST_PARTY - set(sys.stdlib_module_names)


@pytest.mark.parametrize(
    ("requirements", "folders"),
    [
        ("services/requirements.txt", ["services"]),
        ("encoder/requirements.txt", ["services", "encoder"]),
        ("search-api/requirements.txt", ["services", "search-api"]),
        ("scripts/requirements.txt", ["services", "encoder", "search-api", "scripts"]),
    ],
)
def test_every_imported_package_is_in_the_deployables_requirements(requirements, folders):
    """What an image installs is what its code imports: the container would start."""
    installed = requirement_names(ROOT / requirements)
    distributions = packages_distributions()
    for module in sorted(third_party_imports(folders)):
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        assert names & installed, f"{module} (from {names}) is not in {requirements}"


def test_services_never_import_torch():
    assert not {"torch", "torchvision", "timm"} & third_party_imports(["services", "search-api"])


def env_names() -> set[str]:
    names = set()
    for settings, prefix in (
        (EncoderSettings, "ENCODER_"),
        (EncoderClientSettings, "ENCODER_"),
        (MilvusSettings, "MILVUS_"),
        (SearchApiSettings, "SEARCH_API_"),
    ):
        for field, info in settings.model_fields.items():
            if info.annotation in (MilvusSettings, EncoderClientSettings):
                continue  # nested groups have their own prefixes
            names.add(prefix + field.upper())
    return names


def test_env_example_and_readme_list_every_setting():
    example = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    readme = (ROOT / "README.md").read_text()
    paths = {
        "SEARCH_API_DATASET_ROOT",
        "SEARCH_API_THUMB_CACHE_DIR",
        "SEARCH_API_FRONTEND_DIR",
        "SEARCH_API_LIBRARY_DIR",
    }
    for name in sorted(env_names()):
        if name not in paths:  # set by the images themselves
            assert name in example, f"{name} missing from .env.example"
        assert name in readme, f"{name} missing from the README"


def test_the_readme_documents_every_make_up_option_and_where_it_listens():
    """The README's first section is where people learn make up: every flag is there, and
    what it says of addresses is what the code binds (it once said the UI was not on loopback,
    and left --host out)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The two commands") : readme.index("## A tour of the page")]
    parser = up.build_parser()
    by_make_variable = {"--images": "IMAGES=", "--milvus": "MILVUS="}  # the Makefile passes them
    for action in parser._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                shown = f"make up {by_make_variable[flag]}" if flag in by_make_variable else flag
                assert f"`{shown}" in section, f"{flag} missing from the README"
    assert parser.get_default("host") == "127.0.0.1"
    assert "except the UI" not in section
    assert "all on loopback (127.0.0.1), the UI included" in section
    assert 'make up ARGS="--host 0.0.0.0"' in section and "SEARCH_API_WRITE_KEY" in section


@pytest.mark.parametrize("path", ["encoder/Dockerfile", "search-api/Dockerfile"])
def test_dockerfiles_build_with_the_engines_own_frontend(path):
    """A `# syntax=` line makes BuildKit fetch a frontend image from Docker Hub: an offline or
    mirrored build fails. Only what the built-in frontend supports is used."""
    assert not re.search(r"^#\s*syntax\s*=", (ROOT / path).read_text(), flags=re.M | re.I)
