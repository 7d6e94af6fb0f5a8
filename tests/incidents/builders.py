"""Builders for incident tests: lineage from contracts to a model version, alert signals,
batch rows, and counting audit events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from core.auth import CLI_OPERATOR
from incidents.intake import AlertSignal
from lineage import emit, naming
from ranker.lineage_runs import model_ref


def lineage_model(
    db: Session,
    contracts: Sequence[str],
    *,
    model: str = "ranker",
    version: int = 1,
    batch_ids: dict[str, str] | None = None,
) -> dict[str, str]:
    """Record batches of `contracts` → features → training of `model` v`version` in lineage.

    Returns the batch id used per contract (one accepted-rows version each)."""
    batch_ids = batch_ids or {c: str(uuid.uuid4()) for c in contracts}
    build = f"build-{model}-{version}"
    batches = [
        emit.DatasetRef(
            None,
            naming.accepted_rows(c),
            version=batch_ids[c],
            links={naming.BATCH_ID: batch_ids[c], naming.CONTRACT_ID: c},
        )
        for c in contracts
    ]
    features = emit.DatasetRef(
        None,
        naming.feature_set(f"{model}-feed"),
        version=build,
        links={naming.FEATURE_SET: f"{model}-feed", naming.BUILD_ID: build},
    )
    # the ranker's own jobs for `ranker`; another model gets jobs of its own, as lineage walks
    # the job graph (one job feeding two models reaches both)
    own = model == "ranker"
    features_job = naming.FEATURES_JOB if own else f"{model}.features"
    train_job = naming.TRAIN_JOB if own else f"{model}.train"
    emit.record_run(db, CLI_OPERATOR, job=features_job, inputs=batches, outputs=[features])
    emit.record_run(
        db,
        CLI_OPERATOR,
        job=train_job,
        inputs=[features],
        outputs=[model_ref(model, version)],
    )
    db.flush()
    return batch_ids


def page(
    contract_id: str | None,
    at: datetime,
    *,
    severity: str = "page",
    budget: float | None = 0.9,
    kind: str = "batch_pass_rate",
    model_name: str | None = None,
    alert_id: str | None = None,
) -> AlertSignal:
    slo = f"{contract_id or model_name}-{kind}"
    return AlertSignal(
        alert_id=alert_id or str(uuid.uuid4()),
        slo_id=slo,
        slo_name=f"{contract_id or model_name} {kind}",
        slo_kind=kind,
        severity=severity,
        at=at,
        summary=f"{slo}: error budget burning",
        contract_id=contract_id,
        model_name=model_name,
        budget_remaining=budget,
    )


def audit_count(db: Session, object_id: str, action: str | None = None) -> int:
    stmt = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.object_type == "incident", AuditEvent.object_id == object_id)
    )
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return int(db.scalar(stmt) or 0)
