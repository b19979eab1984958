"""Settings shared by more than one deployable (search API, ingest and other scripts).

Each deployable has one typed settings class built from these parts; only settings classes read
the environment. Values come from environment variables with the prefix shown, e.g.
``MILVUS_URI`` or ``ENCODER_URL``; the README lists every variable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class MilvusSettings(BaseSettings):
    """Where the vectors live. The same code talks to Milvus Lite's server and to standalone."""

    model_config = SettingsConfigDict(env_prefix="MILVUS_", extra="ignore")

    uri: str = "http://127.0.0.1:19530"
    token: str = ""
    collection: str = "dogs"
    index_type: str = Field("HNSW", description="HNSW | IVF_FLAT | IVF_SQ8 | FLAT")
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
