"""One settings object for the whole service; nothing else reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
        description="Largest batch upload (POST /batches, streamed to disk); larger ones get "
        "413 before buffering. Other routes have smaller limits.",
    )
    max_json_body_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest body of a JSON or YAML route (rank, contracts, policy, tokens, "
        "SLOs, ...); only POST /batches gets max_body_bytes.",
    )
    max_labels_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description="Largest POST /labels body (up to 100,000 labels of ~150 bytes).",
    )
    example_values: int = Field(
        default=5, ge=0, le=100, description="Failing example values kept per rule."
    )
    profile_category_cap: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Distinct values per categorical field and batch whose counts a profile "
        "keeps exactly; past it, a heavy-hitters summary with a stated error bound.",
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
        default=True,
        description="Run the monitor runner (in `driftgate serve`'s background worker, or "
        "the API process with `--background thread`).",
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
    monitor_drift_share: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Share of alerting fields that makes a dataset alert (unset: any one).",
    )
    monitor_significance: float = Field(
        default=0.01,
        gt=0,
        le=0.5,
        description="Family-wise alert level of a drift window's tests (Holm-adjusted p).",
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
    monitor_reference_min_batches: int = Field(
        default=24,
        ge=1,
        description="An automatic reference (trailing window, champion training data) needs at "
        "least this many batches before drift is judged against it (contract "
        "`monitoring.reference.min_batches` overrides).",
    )
    monitor_reference_min_rows: int = Field(
        default=10_000,
        ge=1,
        description="...and at least this many accepted rows (`monitoring.reference.min_rows`).",
    )
    monitor_reference_slice_min_batches: int = Field(
        default=2,
        ge=1,
        description="A seasonal reference's hour (of day or week) needs this many batches, else "
        "the coarser slice or the whole reference is used.",
    )
    monitor_reference_slice_min_rows: int = Field(
        default=1000,
        ge=1,
        description="...and this many accepted rows.",
    )
    monitor_sliding_windows: list[str] = Field(
        default=["PT5M", "PT15M", "PT1H"],
        description="Sliding drift windows ending now that every runner cycle evaluates and "
        "stores (the drift-free SLO's events); empty for none.",
    )
    monitor_sliding_retention: str = Field(
        default="P40D",
        description="Stored sliding-window verdicts older than this are deleted (keep it above "
        "the drift-free SLO's period plus its longest alert window).",
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
    monitor_calibration_window: str = Field(
        default="P1D",
        description="Reference window of a model version's score calibration: this long from "
        "its first served prediction; fitted once the window's labels are mature.",
    )
    monitor_calibration_min_labels: int = Field(
        default=1000, ge=10, description="Labelled predictions a calibration needs."
    )
    monitor_calibration_min_clicks: int = Field(
        default=30, ge=1, description="Clicks (and non-clicks) a calibration needs."
    )
    monitor_calibration_max_labels: int = Field(
        default=500_000,
        ge=1000,
        description="Labelled predictions a calibration is fitted on at most (a hashed sample).",
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
    ranker_feature_refresh_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often (process clock) serving rebuilds the champion's online features "
        "from the accepted batches that arrived since, over a window as long as its training "
        "window; 0 serves the artifact's snapshot unchanged.",
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

    # --- incidents: what opens one automatically, and what joins an open one ---
    incident_batch_failure_burst: int = Field(
        default=3,
        ge=1,
        description="Failing batches (rejected, or quarantine-heavy) of one contract within "
        "incident_batch_failure_window_minutes that open an incident.",
    )
    incident_batch_failure_window_minutes: float = Field(
        default=30.0, gt=0, description="Window in which failing batches count as a burst."
    )
    incident_batch_quarantine_rate: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="A quarantined batch counts as failing from this share of quarantined rows.",
    )
    incident_group_window_minutes: float = Field(
        default=120.0,
        gt=0,
        description="A signal joins an open incident whose datasets (or model versions "
        "downstream of them) overlap and that had a signal this recently.",
    )

    # --- faults and load: database timeouts, crash leftovers, rate limits, load shedding ---
    db_connect_timeout_seconds: int = Field(
        default=5, ge=1, le=300, description="Give up opening a database connection after this."
    )
    db_statement_timeout_ms: int = Field(
        default=60_000,
        ge=0,
        description="PostgreSQL statement_timeout of the API's connections (0: none); a "
        "statement cut off by it is answered 503 with Retry-After.",
    )
    db_pool_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest wait for a free pooled connection (then 503)."
    )
    db_pool_size: int = Field(
        default=10, ge=1, le=1000, description="Connections the API keeps open in its pool."
    )
    db_max_overflow: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="Extra connections the API opens under load beyond the pool (closed after).",
    )
    db_retry_after_seconds: int = Field(
        default=5, ge=1, description="Retry-After sent with a 503 while the database is down."
    )
    leftover_sweep_seconds: float = Field(
        default=900.0,
        ge=0,
        description="Seconds between sweeps of crash leftovers (spool and .tmp files, batch "
        "folders without a committed batch); 0 sweeps only at start-up.",
    )
    leftover_min_age_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="A .tmp file or uncommitted batch folder is removed only once this old "
        "(another replica may still be writing it); dead processes' spools go at once.",
    )
    ratelimit_enabled: bool = Field(
        default=True, description="Token buckets per caller and route class (429 when empty)."
    )
    ratelimit_rank_per_second: float = Field(
        default=1000.0, gt=0, description="POST /rank calls per second per caller."
    )
    ratelimit_ingest_per_second: float = Field(
        default=1000.0,
        gt=0,
        description="POST /batches, /labels and /api/v1/lineage calls per second per caller.",
    )
    ratelimit_write_per_second: float = Field(
        default=50.0, gt=0, description="Other mutating calls per second per caller."
    )
    ratelimit_read_per_second: float = Field(
        default=200.0, gt=0, description="GET calls per second per caller."
    )
    ratelimit_auth_failures_per_second: float = Field(
        default=10.0,
        gt=0,
        description="401 answers per second per client address; past it, every call from that "
        "address gets 429 (so rotating made-up tokens gets no fresh bucket).",
    )
    ratelimit_burst_seconds: float = Field(
        default=2.0, gt=0, description="A bucket holds this many seconds of its rate (burst)."
    )
    ratelimit_max_callers: int = Field(
        default=100_000, ge=1, description="Buckets kept in memory (least recently used go)."
    )
    rank_max_in_flight: int = Field(
        default=64,
        ge=0,
        description="POST /rank calls handled at once per process; more are shed with 503 "
        "and Retry-After at once (0: no bound).",
    )
    batches_max_in_flight: int = Field(
        default=16,
        ge=0,
        description="POST /batches validated at once per process; more are shed with 503 and "
        "Retry-After at once (0: no bound).",
    )
    lineage_max_in_flight: int = Field(
        default=128,
        ge=0,
        description="POST /api/v1/lineage events waiting on their group commit at once per "
        "process; more are shed with 503 and Retry-After at once (0: no bound).",
    )
    rank_max_loop_lag_ms: float = Field(
        default=200.0,
        ge=0,
        description="Shed POST /rank (503, Retry-After) while the event loop is this far behind "
        "(a new call would wait at least this long before it is scored); 0: never.",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve GET /metrics without a token (for a scraper on a private network).",
    )
    metrics_db_cache_seconds: float = Field(
        default=15.0, ge=0, description="How long /metrics reuses its database figures."
    )

    # --- audit trail: signed checkpoints kept outside PostgreSQL ---
    audit_checkpoint_dir: Path | None = Field(
        default=None,
        description="Where signed audit checkpoints are written (default: <data dir>/"
        "audit-checkpoints); best a mount the database's administrators cannot write.",
    )
    audit_checkpoint_key_file: Path | None = Field(
        default=None,
        description="Checkpoint signing key: an Ed25519 PEM key or `hmac-sha256:<hex>` "
        "(default: <data dir>/keys/audit-checkpoint.key, created on first use).",
    )
    audit_checkpoint_algorithm: Literal["ed25519", "hmac-sha256"] = Field(
        default="ed25519", description="Algorithm of a key created on first use."
    )
    audit_checkpointer: bool = Field(
        default=True,
        description="Write audit checkpoints on a schedule (in `driftgate serve`'s background "
        "worker, or the API process with `--background thread`).",
    )
    simulation_worker: bool = Field(
        default=True,
        description="Play incident simulations queued by POST /simulations (in `driftgate "
        "worker`, each in a child process).",
    )
    audit_checkpoint_interval_seconds: float = Field(
        default=300.0, gt=0, description="Real seconds between scheduled audit checkpoints."
    )
    audit_checkpoint_verify_newest: int = Field(
        default=100,
        ge=1,
        description="Checkpoints an incremental verify compares (the newest); a full one, all.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
