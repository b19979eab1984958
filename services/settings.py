"""Settings shared by more than one deployable (search API, ingest and other scripts), and
the start-up check every service runs on its environment.

Each deployable has one typed settings class built from these parts; only settings classes read
the environment. Values come from environment variables with the prefix shown, e.g.
``MILVUS_URI`` or ``ENCODER_URL``; the README lists every variable. Two classes share a prefix
(``ENCODER_``: the encoder's own settings and how clients reach it), so no class can refuse a
variable it does not know: :func:`from_environment` does, for the prefixes a service owns,
against every class of that prefix, and names a bad value's variable and what it allows.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
# Read by docker compose itself (docker-compose*.yml), never by a process.
COMPOSE_VARIABLES = frozenset(
    {
        "ENCODER_REPLICAS",
        "ENCODER_GPU_COUNT",
        "ENCODER_MEMORY_LIMIT",
        "SEARCH_API_MEMORY_LIMIT",
        "SEARCH_API_PORT",
        "MILVUS_PORT",
    }
)
S = TypeVar("S", bound=BaseSettings)


class SettingsError(RuntimeError):
    """The environment cannot start a service; the message names each variable at fault."""


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


IndexType = Annotated[Literal["HNSW", "IVF_FLAT", "IVF_SQ8", "FLAT"], BeforeValidator(_upper)]


class MilvusSettings(BaseSettings):
    """Where the vectors live. The same code talks to Milvus Lite's server and to standalone."""

    model_config = SettingsConfigDict(env_prefix="MILVUS_", extra="ignore")

    uri: str = "http://127.0.0.1:19530"
    token: str = ""
    collection: str = "dogs"
    index_type: IndexType = "HNSW"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    search_ef: int = 64
    ivf_nlist: int = 256
    search_nprobe: int = 32
    timeout_s: float = 10.0
    # Searches wait for the last change (its timestamp, else Strong) for this long, then
    # Bounded (services/consistency.py); keep it at least Milvus's common.gracefulTime (5 s).
    strong_after_write_s: float = 5.0


class EncoderClientSettings(BaseSettings):
    """How to reach the encoder service(s): a comma-separated list spreads work round-robin."""

    model_config = SettingsConfigDict(env_prefix="ENCODER_", extra="ignore")

    url: str = "http://127.0.0.1:8001"
    timeout_s: float = 30.0
    spread_dns: bool = False  # one URL per address of a name with replicas (compose, k8s)

    @property
    def urls(self) -> list[str]:
        return [part.strip().rstrip("/") for part in self.url.split(",") if part.strip()]


class StorageSettings(BaseSettings):
    """Where photo files live: read by the search API (to serve them) and by ingest (to index
    and re-index them), so both always mean the same folders."""

    model_config = SettingsConfigDict(env_prefix="SEARCH_API_", extra="ignore")

    dataset_root: Path = REPO_ROOT / "data" / "stanford-dogs" / "Images"  # the ingested folder
    library_dir: Path = REPO_ROOT / "data" / "library"  # photos added through the API or UI


class EncoderServerSettings(BaseSettings):
    """gunicorn's settings for the encoder: one worker per model copy, threads that decode in
    parallel. Here, not in ``encoder/config.py``: gunicorn's master reads them before any
    worker, and must not import the app (its metrics belong in the folder the hooks set)."""

    model_config = SettingsConfigDict(env_prefix="ENCODER_", extra="ignore")

    bind: str = "0.0.0.0:8001"
    workers: int = Field(1, ge=1)
    http_threads: int = Field(8, ge=1)
    # A worker silent this long is killed and restarted; ResNet-152 loads slowly on a CPU.
    worker_timeout_s: int = Field(120, ge=1)


class SearchApiServerSettings(BaseSettings):
    """gunicorn's settings for the search API: I/O bound (encoder and Milvus calls), so
    threads."""

    model_config = SettingsConfigDict(env_prefix="SEARCH_API_", extra="ignore")

    bind: str = "0.0.0.0:5000"
    workers: int = Field(2, ge=1)
    threads: int = Field(8, ge=1)
    worker_timeout_s: int = Field(60, ge=1)  # a worker silent this long is killed and restarted


def prefix_of(cls: type[BaseSettings]) -> str:
    return cls.model_config.get("env_prefix", "")


def variables_of(cls: type[BaseSettings]) -> set[str]:
    """The environment variables ``cls`` reads (without those of nested settings classes)."""
    return {f"{prefix_of(cls)}{name}".upper() for name in cls.model_fields}


def unknown_variables(
    prefixes: Iterable[str], classes: Iterable[type[BaseSettings]], environ=None
) -> list[str]:
    """Variables of ``environ`` with one of ``prefixes`` that no class in ``classes`` (nor
    compose) reads: mistyped, most likely."""
    environ = os.environ if environ is None else environ
    known = set(COMPOSE_VARIABLES).union(*(variables_of(cls) for cls in classes))
    prefixes = tuple(prefixes)
    return sorted(name for name in environ if name.startswith(prefixes) and name not in known)


def _describe(error: ValidationError, classes: Iterable[type[BaseSettings]]) -> str:
    prefix = next((prefix_of(c) for c in classes if c.__name__ == error.title), "")
    lines = []
    for item in error.errors():
        variable = f"{prefix}{'_'.join(str(part) for part in item['loc'])}".upper()
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{variable}={item.get('input')!r}: {message}")
    return "; ".join(lines)


def from_environment(
    cls: type[S],
    *,
    owned: Iterable[str] = (),
    classes: Iterable[type[BaseSettings]] = (),
) -> S:
    """``cls()`` from the environment, for a service starting up. Raises :class:`SettingsError`
    naming every variable whose value is not allowed (and what is), and every variable with a
    prefix in ``owned`` that none of ``cls`` and ``classes`` reads, with the nearest known name."""
    classes = [cls, *classes]
    try:
        settings = cls()
    except ValidationError as error:
        raise SettingsError(f"bad settings: {_describe(error, classes)}") from None
    unknown = unknown_variables(owned, classes)
    if unknown:
        known = sorted(set().union(*(variables_of(c) for c in classes)))
        hints = []
        for name in unknown:
            near = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name} (did you mean {near[0]}?)" if near else name)
        raise SettingsError(
            f"unknown variables: {', '.join(hints)}. Unset them, or see the README, Configuration"
        )
    return settings
