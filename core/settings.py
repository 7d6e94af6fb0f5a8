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
    # --- monitors (drift, SLOs, alerts, notifications) ---
    monitor_runner: bool = Field(
        default=True, description="Run the monitor runner inside the API process."
    )
    monitor_interval_seconds: float = Field(
        default=60.0, gt=0, description="Real seconds between scheduled monitor evaluations."
    )
    monitor_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often the runner looks for new batches or labels."
    )
    monitor_window: str = Field(
        default="PT1H", description="Length of the drift windows the runner evaluates."
    )
    monitor_backfill_windows: int = Field(
        default=24, ge=1, le=10_000, description="Past drift windows re-evaluated per run."
    )
    monitor_min_rows: int = Field(
        default=100, ge=1, description="Fewer rows than this in a window reports `no_data`."
    )
    monitor_drift_share: float = Field(
        default=0.5, gt=0, le=1, description="Share of drifted fields that makes a dataset alert."
    )
    monitor_significance: float = Field(
        default=0.05, gt=0, lt=1, description="Level for BH-adjusted p-values of KS/chi2 tests."
    )
    monitor_model_name: str = Field(
        default="ranker", description="Model whose champion's training data is the reference."
    )
    monitor_prediction_fields: list[str] = Field(
        default=["score", "prediction"], description="Fields holding served model scores."
    )
    monitor_reference_max_age: str = Field(
        default="P1D", description="Trailing-window references are recomputed after this age."
    )
    monitor_rollup_days: int = Field(
        default=35, ge=1, le=3660, description="Days of hourly/daily profile rollups kept current."
    )
    monitor_quality_window: str = Field(
        default="PT1H", description="Length of the model-quality windows (served predictions)."
    )
    monitor_quality_backfill: int = Field(
        default=48, ge=1, le=10_000, description="Past quality windows recomputed per run."
    )
    monitor_label_coverage: float = Field(
        default=0.5, gt=0, le=1, description="Labeled share a window needs for realized metrics."
    )
    monitor_label_maturity: str = Field(
        default="P1D", description="After this, a window's labels are final (else provisional)."
    )
    notify_max_attempts: int = Field(
        default=12, ge=1, description="Delivery attempts before a notification is marked dead."
    )
    notify_backoff_seconds: float = Field(
        default=5.0, gt=0, description="First retry delay; doubles per attempt."
    )
    notify_backoff_max_seconds: float = Field(
        default=3600.0, gt=0, description="Longest retry delay."
    )
    notify_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one webhook or SMTP delivery."
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for email sinks.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    smtp_from: str = Field(default="driftgate@localhost", description="Sender of alert email.")
    smtp_starttls: bool = Field(default=False, description="Upgrade SMTP with STARTTLS.")
    smtp_username: str | None = Field(default=None, description="SMTP login, if needed.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL used in alert evidence links."
    )

    # --- ranker serving, prediction log ---
    ranker_model_name: str = Field(
        default="ranker", min_length=1, description="Model whose champion POST /rank serves."
    )
    ranker_serving: bool = Field(
        default=True, description="Load the champion and serve POST /rank in the API process."
    )
    ranker_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often serving checks the registry for a new champion."
    )
    ranker_threads: int = Field(
        default=1, ge=1, le=64, description="Torch intra-op threads for scoring requests."
    )
    ranker_auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="POST /rank remembers a token's role this long (a revoked token may rank "
        "for up to this long); 0 checks the database on every request.",
    )
    ranker_max_candidates: int = Field(
        default=1000, ge=1, le=4096, description="Most items one POST /rank may score."
    )
    predlog_enabled: bool = Field(
        default=True, description="Log every served score (prediction id, features, version)."
    )
    predlog_flush_rows: int = Field(
        default=20_000, ge=1, description="Buffered prediction rows that trigger a bulk write."
    )
    predlog_flush_seconds: float = Field(
        default=0.5, gt=0, description="Longest time a served prediction waits to be written."
    )
    predlog_max_buffer_rows: int = Field(
        default=2_000_000,
        ge=1,
        description="Rows held while the database is unreachable; beyond this, rows are spilled "
        "to Parquet under the data directory and written once it is back.",
    )

    # --- governance: promotion bake period ---
    governance_bake_guard: bool = Field(
        default=True,
        description="Run the bake guard (and promotion-request expiry) in the API process.",
    )
    governance_bake_poll_seconds: float = Field(
        default=30.0, gt=0, description="Real seconds between bake guard passes."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
