"""The search API's settings: the only place it reads the environment.

Own settings use the prefix ``SEARCH_API_``; Milvus (``MILVUS_*``) and the encoder
(``ENCODER_URL``, ``ENCODER_TIMEOUT_S``) settings are shared with ingest and the scripts.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.imaging import DEFAULT_MAX_PIXELS
from services.settings import (
    REPO_ROOT,
    EncoderClientSettings,
    MilvusSettings,
    SearchApiServerSettings,
    StorageSettings,
    from_environment,
)


class SearchApiSettings(StorageSettings):
    """``dataset_root`` and ``library_dir`` come from :class:`StorageSettings` (shared with
    ingest, so both always mean the same folders)."""

    model_config = SettingsConfigDict(env_prefix="SEARCH_API_", extra="ignore")

    thumb_cache_dir: Path = REPO_ROOT / "data" / "thumbs"
    max_images_per_upload: int = 64
    frontend_dir: Path = REPO_ROOT / "frontend"
    thumb_size: int = 256
    max_upload_bytes: int = 20 * 1024 * 1024
    max_pixels: int = DEFAULT_MAX_PIXELS
    default_k: int = 12
    max_k: int = 100
    max_per_page: int = 200
    url_fetch_timeout_s: float = 10.0  # search by URL: the whole download, redirects included
    duplicate_threshold: float = 0.95  # cosine above which two photos count as near-copies
    catalog_ttl_s: float = 15.0
    log_level: str = "INFO"
    # When set, every write (add, delete, relabel, restore, purge) needs
    # ``Authorization: Bearer <key>``; reads stay open. A secret, so logged as stars.
    write_key: SecretStr = SecretStr("")
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    encoder: EncoderClientSettings = Field(default_factory=EncoderClientSettings)


def load_settings() -> SearchApiSettings:
    """The settings from the environment, for the app starting up: a bad value, or a
    ``SEARCH_API_*`` or ``MILVUS_*`` variable nothing reads, raises ``SettingsError`` naming it.
    (``ENCODER_*`` belongs to the encoder, which checks it.)"""
    return from_environment(
        SearchApiSettings,
        owned=("SEARCH_API_", "MILVUS_"),
        classes=(SearchApiServerSettings, MilvusSettings),
    )
