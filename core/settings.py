"""One settings object for the whole service; nothing else reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration, read from `DRIFTGATE_*` variables (and `DATABASE_URL`)."""

    model_config = SettingsConfigDict(env_prefix="DRIFTGATE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DRIFTGATE_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL of the PostgreSQL server; unset starts an embedded one.",
    )
    embedded_pg_dir: Path = Field(
        default=Path("var/pg"), description="Data directory of the embedded PostgreSQL."
    )
    data_dir: Path = Field(
        default=Path("var/data"), description="Where batch payloads are written as Parquet."
    )
    max_body_bytes: int = Field(
        default=512 * 1024 * 1024,
        gt=0,
        description="Largest request body accepted; larger ones get 413 before buffering.",
    )
    example_values: int = Field(
        default=5, ge=0, le=100, description="Failing example values kept per rule."
    )
    token_prefix: str = Field(default="dg_", description="Prefix of issued API tokens.")
    lineage_namespace: str = Field(
        default="driftgate",
        min_length=1,
        description="OpenLineage namespace of driftgate's own jobs and datasets.",
    )
    lineage_max_event_bytes: int = Field(
        default=4 * 1024 * 1024,
        gt=0,
        description="Largest OpenLineage event accepted (after gzip decoding).",
    )
    openlineage_url: str | None = Field(
        default=None,
        description="Also send driftgate's own lineage to this OpenLineage server (e.g. Marquez).",
    )
    openlineage_endpoint: str = Field(
        default="api/v1/lineage", description="Path of the lineage endpoint on that server."
    )
    openlineage_api_key: SecretStr | None = Field(
        default=None, description="Bearer API key for that server, if it needs one."
    )
    openlineage_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for that server per event."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
