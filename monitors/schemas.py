"""API shapes of the monitors domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from core.schemas import RequestModel, ResponseModel

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,99}$"


class ReferenceRead(ResponseModel):
    id: uuid.UUID = Field(description="Reference id.")
    contract_id: str = Field(description="Contract (monitored dataset) it belongs to.")
    version: int = Field(description="Version; the highest is the active reference.")
    source: str = Field(description="champion_training, pinned_window or trailing_window.")
    model_name: str | None = Field(default=None, description="Champion model, if the source.")
    model_version: str | None = Field(default=None, description="Its version.")
    window_start: datetime | None = Field(default=None, description="Window start, if a window.")
    window_end: datetime | None = Field(default=None, description="Window end, if a window.")
    batch_ids: list[str] = Field(description="Batches whose profiles make the reference.")
    batch_count: int = Field(description="How many batches it covers.")
    row_count: int = Field(description="Accepted rows in those batches.")
    first_batch_at: datetime | None = Field(
        default=None, description="Arrival of the first batch it covers."
    )
    last_batch_at: datetime | None = Field(
        default=None, description="Arrival of the last batch it covers."
    )
    fields: list[str] = Field(description="Fields profiled.")
    seasonality: str | None = Field(
        default=None, description="hour_of_day or hour_of_week when it keeps hourly slices."
    )
    slices: dict[str, dict[str, int]] | None = Field(
        default=None,
        description="Per slice (`h13`: batches that arrived 13:00-13:59 UTC; `d0h13`: on "
        "Mondays), the batches and rows it covers; a window is compared with its hours' slices.",
    )
    active: bool = Field(description="True for the version drift is judged against now.")
    retired_at: datetime | None = Field(
        default=None, description="When it stopped applying without a replacement."
    )
    retired_reason: str | None = Field(default=None, description="Why it was retired.")
    reason: str = Field(description="Why this version was computed.")
    created_at: datetime = Field(description="When it was computed.")
    created_by: str = Field(description="Who computed it (a token name or the runner).")


class ReferenceStatusRead(ResponseModel):
    contract_id: str = Field(description="The monitored contract.")
    reference: ReferenceRead | None = Field(description="The active reference, if any.")
    pending: str | None = Field(
        description="Without an active reference: what its sources lack (batches, rows)."
    )


class FieldPoint(ResponseModel):
    start: datetime = Field(description="Window start.")
    end: datetime = Field(description="Window end.")
    method: str = Field(description="psi, ks, chi2 or js.")
    statistic: float | None = Field(default=None, description="The statistic, if computed.")
    p_value: float | None = Field(
        default=None, description="Holm-adjusted p-value of the field's test."
    )
    severity: str = Field(description="ok, warn, alert or no_data.")


class FieldDriftRead(ResponseModel):
    """One field of a drift window: its effect, its test, its null rate, and the verdict rule.

    Further keys describe the comparison (`edges`, shares, `categories`, `unseen`, ...).
    """

    model_config = ConfigDict(from_attributes=True, extra="allow")

    field: str = Field(description="Field name.")
    method: str = Field(description="Effect metric: psi, ks, js, or chi2 (effect: JS distance).")
    severity: str = Field(
        description="ok, warn, alert or no_data: the worse of distribution and null rate."
    )
    distribution_severity: str | None = Field(
        default=None, description="Severity of the distribution change alone."
    )
    statistic: float | None = Field(default=None, description="`method`'s statistic as computed.")
    effect: float | None = Field(
        default=None,
        description="The statistic less its sampling bias (PSI, JS); what `min_effect` judges.",
    )
    test: str | None = Field(default=None, description="Significance test: ks or chi2.")
    test_statistic: float | None = Field(default=None, description="KS D or chi-square.")
    p_value: float | None = Field(default=None, description="The test's raw p-value.")
    adjusted_p_value: float | None = Field(
        default=None, description="Holm-adjusted over every test of the window (nulls too)."
    )
    reference_count: int = Field(default=0, description="Non-null reference values.")
    current_count: int = Field(default=0, description="Non-null values in the window.")
    warn: float | None = Field(
        default=None, description="Warn threshold as the contract spells it (chi2: a p-level)."
    )
    alert: float | None = Field(
        default=None, description="Alert threshold as the contract spells it (chi2: a p-level)."
    )
    min_effect: float | None = Field(default=None, description="Minimal effect for an alert.")
    warn_effect: float | None = Field(default=None, description="Minimal effect for a warning.")
    alpha: float | None = Field(default=None, description="Alert level for the adjusted p.")
    warn_alpha: float | None = Field(default=None, description="Warn level for the adjusted p.")
    design_effect: float | None = Field(
        default=None, description="Rows per independent observation the tests assumed."
    )
    null_rate: float | None = Field(default=None, description="Share of nulls in the window.")
    reference_null_rate: float | None = Field(
        default=None, description="Share of nulls in the reference."
    )
    null_p_value: float | None = Field(
        default=None, description="Two-proportion test of the null rates (null: untestable)."
    )
    null_adjusted_p_value: float | None = Field(
        default=None, description="Its Holm-adjusted p-value."
    )
    null_severity: str | None = Field(default=None, description="Severity of the null rate.")
    new_category_share: float | None = Field(
        default=None,
        description="Share of the window's values in categories the reference never saw.",
    )
    expected_new_category_share: float | None = Field(
        default=None,
        description="What the reference's tail predicts (Good-Turing: singletons / size).",
    )
    new_category_p_value: float | None = Field(
        default=None,
        description="One-sided binomial test of the unseen share (null: nothing unseen).",
    )
    new_category_adjusted_p_value: float | None = Field(
        default=None, description="Its Holm-adjusted p-value."
    )
    new_category_severity: str | None = Field(
        default=None,
        description="Severity of new categories (no_data: not categorical or not exact).",
    )
    prediction: bool = Field(default=False, description="The field holds served model scores.")


class DriftWindowRead(ResponseModel):
    kind: str = Field(description="`window` or `batch`.")
    start: datetime = Field(description="Window start (a batch: its arrival).")
    end: datetime = Field(description="Window end (a batch: its arrival).")
    verdict: str = Field(description="Dataset verdict: ok, warn, alert or no_data.")
    reason: str = Field(description="Why: drifted fields and shares, or why no data.")
    rows: int = Field(description="Accepted rows in the window.")
    batch_count: int = Field(description="Batches in the window (with accepted rows).")
    first_batch_at: datetime | None = Field(
        default=None, description="Arrival of the window's first batch."
    )
    last_batch_at: datetime | None = Field(
        default=None, description="Arrival of the window's last batch."
    )
    batch_ids: list[str] = Field(
        description="The window's newest batches, newest first: at most 100 (see "
        "`batch_ids_truncated` and `batches_url`)."
    )
    batch_ids_truncated: bool = Field(
        description="True when the window holds more batches than `batch_ids` lists."
    )
    batches_url: str = Field(
        description="Lists every batch of the window: `GET /batches?contract=…&since=…&until=…` "
        "(newest first, paged by `limit`/`offset`; it also shows rejected batches and batches "
        "without accepted rows, which drift does not count); for a batch, the batch itself."
    )
    drifted_share: float | None = Field(default=None, description="Share of fields alerting.")
    reference: dict[str, Any] | None = Field(
        default=None,
        description="What the window was compared with: reference id and version, the slice "
        "(`whole`, or the hours of a seasonal reference), its batches and rows, and why a "
        "coarser slice was used (`fallback`).",
    )
    prediction_drift: dict[str, Any] | None = Field(
        default=None, description="Drift of the served score field, if the dataset has one."
    )
    fields: dict[str, FieldDriftRead] = Field(description="Per-field results.")


class DriftSeriesRead(ResponseModel):
    contract_id: str = Field(description="The monitored contract.")
    window: str = Field(description="Window length (ISO 8601) or `batch`.")
    reference: dict[str, Any] | None = Field(
        description="The active reference and what it covers (source, champion version, "
        "batches, rows, first and last batch arrival, seasonality), if any."
    )
    reference_pending: str | None = Field(
        default=None, description="Without a reference: what is missing (batches, rows)."
    )
    windows: list[DriftWindowRead] = Field(description="One entry per window, oldest first.")
    fields: dict[str, list[FieldPoint]] = Field(description="Time series per field.")


class SloCreate(RequestModel):
    id: str = Field(pattern=ID_PATTERN, description="Stable SLO id (slug).")
    name: str = Field(min_length=1, max_length=300, description="Human-readable name.")
    kind: Literal["batch_pass_rate", "freshness", "drift_free", "realized_auc"] = Field(
        description="What an event is (see docs/monitors.md)."
    )
    contract_id: str | None = Field(
        default=None, max_length=100, description="The contract it watches."
    )
    objective: float = Field(gt=0, lt=1, description="Target share of good events, e.g. 0.99.")
    params: dict[str, Any] = Field(default_factory=dict, description="Kind-specific settings.")
    period: str = Field(default="P30D", description="SLO period (ISO 8601 duration).")
    time_scale: float = Field(
        default=1.0, gt=0, le=1_000_000, description="Shrink period and windows (simulations)."
    )
    min_events: int = Field(
        default=0, ge=0, description="Fewer events in a long window never alert."
    )
    pending_seconds: float = Field(
        default=0.0, ge=0, description="How long a burn must hold before the alert fires."
    )
    runbook_url: str | None = Field(default=None, max_length=2000, description="Runbook link.")
    enabled: bool = Field(default=True, description="Evaluated by the runner.")


class SloUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=300, description="Name.")
    objective: float | None = Field(default=None, gt=0, lt=1, description="Target share.")
    params: dict[str, Any] | None = Field(default=None, description="Kind-specific settings.")
    period: str | None = Field(default=None, description="SLO period (ISO 8601 duration).")
    time_scale: float | None = Field(default=None, gt=0, le=1_000_000, description="Scale.")
    min_events: int | None = Field(default=None, ge=0, description="Minimum events guard.")
    pending_seconds: float | None = Field(default=None, ge=0, description="Pending time.")
    runbook_url: str | None = Field(default=None, max_length=2000, description="Runbook link.")
    enabled: bool | None = Field(default=None, description="Evaluated by the runner.")


class SloRead(ResponseModel):
    id: str = Field(description="SLO id.")
    name: str = Field(description="Name.")
    kind: str = Field(description="Event definition.")
    contract_id: str | None = Field(default=None, description="Watched contract.")
    objective: float = Field(description="Target share of good events.")
    params: dict[str, Any] = Field(description="Kind-specific settings, defaults filled.")
    period_seconds: int = Field(description="SLO period before scaling.")
    time_scale: float = Field(description="Scale of period and windows.")
    min_events: int = Field(description="Minimum events guard.")
    pending_seconds: float = Field(description="Pending time before firing.")
    runbook_url: str | None = Field(default=None, description="Runbook link.")
    enabled: bool = Field(description="Evaluated by the runner.")
    last_evaluation: dict[str, Any] | None = Field(
        default=None, description="The runner's last evaluation."
    )
    created_at: datetime = Field(description="Created.")
    updated_at: datetime = Field(description="Last changed.")


class SloDetail(SloRead):
    status: dict[str, Any] = Field(
        description="Evaluated now: good/bad events, budget remaining, burn rate per window."
    )
    open_alerts: list[AlertRead] = Field(description="Pending or firing alerts of this SLO.")


class AlertEventRead(ResponseModel):
    at: datetime = Field(description="When.")
    from_state: str | None = Field(default=None, description="Previous state.")
    to_state: str = Field(description="New state.")
    details: dict[str, Any] = Field(description="Why.")


class AlertRead(ResponseModel):
    id: uuid.UUID = Field(description="Alert id.")
    slo_id: str = Field(description="SLO.")
    severity: str = Field(description="page or ticket.")
    state: str = Field(description="pending, firing or resolved.")
    opened_at: datetime = Field(description="When it became pending.")
    fired_at: datetime | None = Field(default=None, description="When it fired.")
    resolved_at: datetime | None = Field(default=None, description="When it resolved.")
    last_evaluated_at: datetime = Field(description="Last evaluation that touched it.")
    summary: str = Field(description="One-line description.")
    burn_rates: dict[str, Any] = Field(description="Firing windows with burn rates.")
    evidence: dict[str, Any] = Field(description="Links to batches, windows and fields.")
    runbook_url: str | None = Field(default=None, description="What to do.")


class AlertDetail(AlertRead):
    history: list[AlertEventRead] = Field(description="State changes, oldest first.")


class SinkCreate(RequestModel):
    name: str = Field(pattern=ID_PATTERN, description="Unique sink name.")
    kind: Literal["webhook", "slack", "email"] = Field(description="How to deliver.")
    target: str = Field(
        min_length=3, max_length=2000, description="URL, or comma-separated email addresses."
    )
    secret: str | None = Field(
        default=None, max_length=500, description="HMAC-SHA256 key (webhook; write-only)."
    )
    severities: list[Literal["page", "ticket"]] = Field(
        default=["page", "ticket"], min_length=1, description="Alert severities it receives."
    )
    enabled: bool = Field(default=True, description="Receives notifications.")


class SinkUpdate(RequestModel):
    enabled: bool = Field(description="Receives notifications.")


class SinkRead(ResponseModel):
    id: uuid.UUID = Field(description="Sink id.")
    name: str = Field(description="Name.")
    kind: str = Field(description="webhook, slack or email.")
    target: str = Field(description="URL or addresses.")
    severities: list[str] = Field(description="Severities it receives.")
    enabled: bool = Field(description="Receives notifications.")
    created_at: datetime = Field(description="Created.")


class NotificationRead(ResponseModel):
    id: int = Field(description="Outbox id.")
    sink_id: uuid.UUID = Field(description="Sink.")
    alert_id: uuid.UUID = Field(description="Alert.")
    event: str = Field(description="firing or resolved.")
    status: str = Field(description="pending, delivered or dead.")
    attempts: int = Field(description="Delivery attempts so far.")
    next_attempt_at: datetime = Field(description="When the next attempt is due.")
    last_error: str | None = Field(default=None, description="Why the last attempt failed.")
    created_at: datetime = Field(description="Written with the alert change.")
    delivered_at: datetime | None = Field(default=None, description="When delivered.")


class RunRead(ResponseModel):
    ran: bool = Field(description="False if another runner held the lock.")
    contracts: int = Field(description="Contracts evaluated for drift.")
    windows: int = Field(description="Drift windows (re)computed.")
    sliding_windows: int = Field(
        description="Sliding drift windows ending now, stored for the drift-free SLO."
    )
    slos: int = Field(description="SLOs evaluated.")
    quality_windows: int = Field(description="Model-quality windows (re)computed.")
    rollups_built: int = Field(description="Profile rollup buckets (re)built.")
    rollups_left: int = Field(
        description="Stale profile rollup buckets left for the next runs (work per run is bounded)."
    )
    transitions: list[dict[str, Any]] = Field(description="Alert state changes.")
    errors: list[str] = Field(description="Isolated failures.")
    delivered: int = Field(description="Notifications delivered.")
    failed: int = Field(description="Delivery attempts that failed (will retry).")
    dead: int = Field(description="Notifications out of attempts.")


SloDetail.model_rebuild()
