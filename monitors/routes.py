"""HTTP routes of monitors: drift, references, SLOs, alerts, sinks and the outbox."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import HTMLResponse

from core.bounds import INT64_MAX, IsoDateTime
from core.clock import utcnow
from core.http import Admin, AppSettings, DbSession, Viewer
from monitors.drift import references
from monitors.drift import service as drift
from monitors.notify import service as notify
from monitors.schemas import (
    AlertDetail,
    AlertEventRead,
    AlertRead,
    DriftSeriesRead,
    NotificationRead,
    ReferenceRead,
    ReferenceStatusRead,
    RunRead,
    SinkCreate,
    SinkRead,
    SinkUpdate,
    SloCreate,
    SloDetail,
    SloRead,
    SloUpdate,
)
from monitors.slos import alerts
from monitors.slos import service as slos

router = APIRouter(tags=["monitors"])

Dataset = Annotated[
    str, Query(min_length=1, max_length=500, description="Contract id or dataset name.")
]


@router.get("/monitors/drift", response_model=DriftSeriesRead)
def get_drift(
    session: DbSession,
    _: Viewer,
    settings: AppSettings,
    dataset: Dataset,
    window: Annotated[
        str, Query(max_length=50, description="Window length (PT1H, 1d, …) or `batch`.")
    ] = "PT1H",
    start: Annotated[IsoDateTime | None, Query(description="From (inclusive).")] = None,
    end: Annotated[IsoDateTime | None, Query(description="Until (exclusive); default now.")] = None,
    count: Annotated[
        int,
        Query(
            ge=1,
            le=2000,
            description="Windows when no start; with `window=batch`, the newest batches shown.",
        ),
    ] = 24,
) -> dict[str, Any]:
    """Drift per field and per window (or batch) against the reference, from stored profiles."""
    return drift.drift_series(
        session,
        dataset=dataset,
        window=window,
        start=start,
        end=end,
        count=count,
        settings=settings,
    )


@router.get("/monitors/quality/segments")
def get_quality_by_segment(
    session: DbSession,
    _: Viewer,
    settings: AppSettings,
    segment: Annotated[
        Literal["surface", "device", "country"],
        Query(description="Request context to split by: surface, device or country."),
    ],
    model: Annotated[
        str, Query(min_length=1, max_length=100, description="Served model name.")
    ] = "ranker",
    window: Annotated[str, Query(max_length=50, description="Window length (PT1H, 1d).")] = "1d",
    start: Annotated[IsoDateTime | None, Query(description="From (inclusive).")] = None,
    end: Annotated[IsoDateTime | None, Query(description="Until (exclusive); default now.")] = None,
    count: Annotated[int, Query(ge=1, le=400, description="Windows when no start.")] = 7,
    top: Annotated[int, Query(ge=1, le=100, description="Busiest segment values shown.")] = 20,
) -> dict[str, Any]:
    """Realized and estimated quality per segment value (e.g. per surface), busiest first."""
    from monitors.quality.service import quality_by_segment

    return quality_by_segment(
        session,
        model=model,
        segment=segment,
        window=window,
        start=start,
        end=end,
        count=count,
        settings=settings,
        top=top,
    )


@router.get("/monitors/quality")
def get_quality(
    session: DbSession,
    _: Viewer,
    settings: AppSettings,
    model: Annotated[
        str, Query(min_length=1, max_length=100, description="Served model name.")
    ] = "ranker",
    window: Annotated[str, Query(max_length=50, description="Window length (PT1H, 1d).")] = "PT1H",
    start: Annotated[IsoDateTime | None, Query(description="From (inclusive).")] = None,
    end: Annotated[IsoDateTime | None, Query(description="Until (exclusive); default now.")] = None,
    count: Annotated[int, Query(ge=1, le=2000, description="Windows when no start.")] = 24,
) -> dict[str, Any]:
    """Realized quality (AUC, log loss, calibration, NDCG@10) next to the label-free estimate."""
    from monitors.quality.service import quality_series

    return quality_series(
        session,
        model=model,
        window=window,
        start=start,
        end=end,
        count=count,
        settings=settings,
    )


@router.get("/monitors/drift/report", response_class=HTMLResponse)
def get_drift_report(
    session: DbSession,
    _: Viewer,
    dataset: Dataset,
    start: Annotated[IsoDateTime | None, Query(description="From; default one hour ago.")] = None,
    end: Annotated[IsoDateTime | None, Query(description="Until; default now.")] = None,
    max_rows: Annotated[
        int, Query(ge=100, le=2_000_000, description="Rows sampled per side.")
    ] = 100_000,
) -> HTMLResponse:
    """An Evidently DataDriftPreset HTML report of a window against the reference (raw rows)."""
    from monitors.drift.report import drift_report_html

    contract_id = drift.resolve_contract_id(session, dataset)
    end = end or utcnow()
    html = drift_report_html(
        session,
        contract_id=contract_id,
        start=start or end - timedelta(hours=1),
        end=end,
        max_rows=max_rows,
    )
    return HTMLResponse(html)


@router.get("/monitors/references", response_model=list[ReferenceRead])
def list_references(session: DbSession, _: Viewer, dataset: Dataset) -> list[ReferenceRead]:
    """Every version of a dataset's reference profile and what it covers, newest first."""
    contract_id = drift.resolve_contract_id(session, dataset)
    return [
        ReferenceRead.model_validate(r) for r in references.described_versions(session, contract_id)
    ]


@router.get("/monitors/references/active", response_model=ReferenceStatusRead)
def active_reference(
    session: DbSession, _: Viewer, settings: AppSettings, dataset: Dataset
) -> dict[str, Any]:
    """The reference drift is judged against now, or what is missing before there is one."""
    contract_id = drift.resolve_contract_id(session, dataset)
    return references.active_status(session, contract_id, settings=settings)


@router.post("/monitors/references", response_model=ReferenceRead)
def recompute_reference(
    session: DbSession,
    actor: Admin,
    settings: AppSettings,
    dataset: Dataset,
    force: Annotated[
        bool,
        Query(description="Build it even below the minimum batches and rows (any data will do)."),
    ] = False,
) -> ReferenceRead:
    """Recompute a dataset's reference now (a new version only if the profile changed)."""
    contract_id = drift.resolve_contract_id(session, dataset)
    ref = references.recompute(
        session, actor, contract_id=contract_id, settings=settings, force=force
    )
    return ReferenceRead.model_validate(ref)


@router.get("/slos", response_model=list[SloRead])
def list_slos(session: DbSession, _: Viewer) -> list[SloRead]:
    """Every SLO with the runner's last evaluation."""
    return [SloRead.model_validate(s) for s in slos.list_slos(session)]


@router.post("/slos", response_model=SloRead, status_code=status.HTTP_201_CREATED)
def create_slo(session: DbSession, actor: Admin, body: SloCreate) -> SloRead:
    """Declare an SLO."""
    return SloRead.model_validate(slos.create_slo(session, actor, data=body.model_dump()))


@router.patch("/slos/{slo_id}", response_model=SloRead)
def update_slo(
    session: DbSession, actor: Admin, settings: AppSettings, slo_id: str, body: SloUpdate
) -> SloRead:
    """Change an SLO (objective, parameters, ...); disabling it resolves its open alerts."""
    changes = body.model_dump(exclude_unset=True)
    return SloRead.model_validate(
        slos.update_slo(session, actor, slo_id=slo_id, changes=changes, settings=settings)
    )


@router.get("/slos/{slo_id}", response_model=SloDetail)
def get_slo(session: DbSession, _: Viewer, slo_id: str) -> SloDetail:
    """An SLO evaluated now: budget remaining and burn rate per alert window, open alerts."""
    slo, evaluation, open_alerts = slos.status_of(session, slo_id)
    return SloDetail.model_validate(
        {
            **SloRead.model_validate(slo).model_dump(),
            "status": evaluation.to_json(),
            "open_alerts": [AlertRead.model_validate(a) for a in open_alerts],
        }
    )


@router.get("/alerts", response_model=list[AlertRead])
def list_alerts(
    session: DbSession,
    _: Viewer,
    state: Annotated[str | None, Query(pattern="^(pending|firing|resolved)$")] = None,
    slo: Annotated[str | None, Query(max_length=100, description="Only this SLO.")] = None,
    severity: Annotated[str | None, Query(pattern="^(page|ticket)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> list[AlertRead]:
    """Alerts, newest first."""
    rows = alerts.list_alerts(
        session, state=state, slo_id=slo, severity=severity, limit=limit, offset=offset
    )
    return [AlertRead.model_validate(a) for a in rows]


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(session: DbSession, _: Viewer, alert_id: uuid.UUID) -> AlertDetail:
    """One alert with its history of state changes."""
    alert, history = alerts.with_history(session, alert_id)
    return AlertDetail.model_validate(
        {
            **AlertRead.model_validate(alert).model_dump(),
            "history": [AlertEventRead.model_validate(e) for e in history],
        }
    )


@router.post("/monitors/sinks", response_model=SinkRead, status_code=status.HTTP_201_CREATED)
def create_sink(session: DbSession, actor: Admin, body: SinkCreate) -> SinkRead:
    """Register a notification sink (signed webhook, Slack webhook or email)."""
    return SinkRead.model_validate(notify.create_sink(session, actor, data=body.model_dump()))


@router.get("/monitors/sinks", response_model=list[SinkRead])
def list_sinks(session: DbSession, _: Admin) -> list[SinkRead]:
    """Notification sinks (secrets are never shown)."""
    return [SinkRead.model_validate(s) for s in notify.list_sinks(session)]


@router.patch("/monitors/sinks/{name}", response_model=SinkRead)
def update_sink(session: DbSession, actor: Admin, name: str, body: SinkUpdate) -> SinkRead:
    """Enable or disable a sink."""
    sink = notify.set_sink_enabled(session, actor, name=name, enabled=body.enabled)
    return SinkRead.model_validate(sink)


@router.get("/monitors/notifications", response_model=list[NotificationRead])
def list_notifications(
    session: DbSession,
    _: Viewer,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(pending|delivered|dead)$")
    ] = None,
    alert: Annotated[uuid.UUID | None, Query(description="Only this alert.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> list[NotificationRead]:
    """The notification outbox, newest first, with attempts and the last error."""
    rows = notify.list_notifications(
        session, status=status_, alert_id=alert, limit=limit, offset=offset
    )
    return [NotificationRead.model_validate(n) for n in rows]


@router.post("/monitors/notifications/{notification_id}/retry", response_model=NotificationRead)
def retry_notification(
    session: DbSession,
    actor: Admin,
    notification_id: Annotated[int, Path(ge=1, le=INT64_MAX, description="Outbox id.")],
) -> NotificationRead:
    """Requeue a dead notification for delivery now."""
    row = notify.requeue(session, actor, notification_id=notification_id)
    return NotificationRead.model_validate(row)


@router.post("/monitors/run", response_model=RunRead)
def run_monitors(request: Request, _: Admin, settings: AppSettings) -> RunRead:
    """Evaluate drift, SLOs and alerts now and deliver due notifications (own transaction)."""
    from monitors.runner import run_once

    report = run_once(request.app.state.session_factory, settings=settings)
    return RunRead.model_validate(report.to_json())
