"""Batch intake: validate every batch against its contract version, store it whole or not at all."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from checks import idempotency, repository
from checks.engine import REASONS, ROW_NUMBER, RULE_IDS, RuleOutcome, Validation, complete, evaluate
from checks.errors import BatchNotFound
from checks.idempotency import KeyedRequest
from checks.lineage_runs import record_batch_check
from checks.models import Batch, ColumnProfile, RuleResult
from checks.profile import CATEGORY_CAP
from checks.readers import read_batch
from checks.storage import read_verified, remove_tree, write_parquet
from contracts import service as contracts
from contracts.spec import Action, ContractSpec
from core import audit
from core.auth import Principal
from core.clock import utcnow
from core.errors import InvalidInput
from core.jsonsafe import jsonsafe


@dataclass(frozen=True)
class IncomingBatch:
    """A request body already spooled to disk, hashed and size-checked."""

    path: Path
    sha256: str
    size: int
    format: str


@dataclass(frozen=True)
class Submission:
    batch: Batch
    replayed: bool


def submit_batch(
    session: Session,
    actor: Principal,
    *,
    contract_id: str,
    version: str | None,
    body: IncomingBatch,
    data_dir: Path,
    idempotency_key: str | None = None,
    example_values: int = 5,
    category_cap: int = CATEGORY_CAP,
) -> Submission:
    """Validate and store a batch; with an idempotency key, retries return the first result."""
    keyed = None
    if idempotency_key is not None:
        keyed = KeyedRequest(
            actor.name, idempotency_key, contract_id, version, body.sha256, body.format
        )
        first = idempotency.first_batch(session, keyed)
        if first is not None:
            return Submission(get_batch(session, first), replayed=True)
    checked = _check(session, contract_id, version, body, example_values)
    batch = _store_checked(
        session, actor, checked, body, data_dir, keyed=keyed, category_cap=category_cap
    )
    return Submission(batch, replayed=False)


@dataclass(frozen=True)
class _Checked:
    """A batch validated against its contract version, not yet profiled or stored."""

    contract_id: str
    version: str
    spec: ContractSpec
    result: Validation
    received_at: datetime
    started: float  # perf_counter when validation began, for validation_ms


def _check(
    session: Session,
    contract_id: str,
    version: str | None,
    body: IncomingBatch,
    example_values: int,
) -> _Checked:
    contract_version = contracts.resolve_version(session, contract_id, version)
    spec = contracts.spec_of(contract_version)
    raw = read_batch(body.path, body.format)
    _refuse_reserved_columns(raw.columns)
    received_at = utcnow()
    started = time.perf_counter()
    result = evaluate(raw, spec, received_at=received_at, example_values=example_values)
    if contract_version.status == "deprecated":
        result.outcomes.append(_deprecated_outcome(contract_version.version))
        if result.status.value == "passed":
            result.status = type(result.status)("warned")
    return _Checked(contract_id, contract_version.version, spec, result, received_at, started)


def _store_checked(
    session: Session,
    actor: Principal,
    checked: _Checked,
    body: IncomingBatch,
    data_dir: Path,
    *,
    keyed: KeyedRequest | None,
    category_cap: int,
) -> Batch:
    """Profile, write the files, then the rows, key, lineage run and audit event; all or none."""
    result = checked.result
    batch_id = uuid.uuid4()
    batch_dir = data_dir / "batches" / checked.contract_id / str(batch_id)
    try:
        # Writing and fsyncing the Parquet files waits mostly on the disk: profile meanwhile
        # (which also fills in the min/max rules' observed extremes from the profile).
        with ThreadPoolExecutor(max_workers=1) as pool:
            written = pool.submit(_write_files, batch_dir, result)
            complete(result, checked.spec, category_cap=category_cap)
            files = written.result()
        elapsed_ms = int((time.perf_counter() - checked.started) * 1000)
        batch = _store(
            session,
            actor,
            batch_id,
            files,
            checked.contract_id,
            checked.version,
            result,
            body,
            checked.received_at,
            elapsed_ms,
        )
        if keyed is not None:
            idempotency.remember(session, keyed, batch_id=batch_id, created_at=checked.received_at)
        record_batch_check(
            session,
            actor,
            batch=batch,
            spec=checked.spec,
            outcomes=result.outcomes,
            profile=result.profile,
            ended_at=utcnow(),
        )
        _audit_submission(session, actor, batch)
        session.flush()
    except BaseException:
        remove_tree(batch_dir)  # files without a committed row are never visible; tidy anyway
        raise
    return batch


def _audit_submission(session: Session, actor: Principal, batch: Batch) -> None:
    audit.record(
        session,
        actor=actor.name,
        action="batch.submit",
        object_type="batch",
        object_id=str(batch.id),
        after={
            "contract": batch.contract_id,
            "version": batch.contract_version,
            "status": batch.status,
            "rows_received": batch.rows_received,
            "rows_accepted": batch.rows_accepted,
            "rows_quarantined": batch.rows_quarantined,
            "body_sha256": batch.body_sha256,
        },
    )


@dataclass(frozen=True)
class StoredFiles:
    accepted_path: Path
    accepted_sha256: str
    quarantine_path: Path
    quarantine_sha256: str


def _write_files(batch_dir: Path, result: Validation) -> StoredFiles:
    accepted_path = batch_dir / "accepted.parquet"
    quarantine_path = batch_dir / "quarantine.parquet"
    return StoredFiles(
        accepted_path,
        write_parquet(result.accepted, accepted_path),
        quarantine_path,
        write_parquet(result.quarantined, quarantine_path),
    )


def _store(
    session: Session,
    actor: Principal,
    batch_id: uuid.UUID,
    files: StoredFiles,
    contract_id: str,
    version: str,
    result: Validation,
    body: IncomingBatch,
    received_at: datetime,
    elapsed_ms: int,
) -> Batch:
    batch = Batch(
        id=batch_id,
        contract_id=contract_id,
        contract_version=version,
        status=result.status.value,
        rows_received=result.rows_received,
        rows_accepted=result.rows_accepted,
        rows_quarantined=result.rows_quarantined,
        format=body.format,
        body_bytes=body.size,
        body_sha256=body.sha256,
        received_at=received_at,
        newest_event_at=result.newest_event_at,
        submitted_by=actor.name,
        accepted_path=str(files.accepted_path),
        accepted_sha256=files.accepted_sha256,
        quarantine_path=str(files.quarantine_path),
        quarantine_sha256=files.quarantine_sha256,
        validation_ms=elapsed_ms,
    )
    session.add(batch)
    session.flush()
    session.add_all(_rule_rows(batch_id, result.outcomes))
    session.add_all(
        ColumnProfile(batch_id=batch_id, field=name, profile=jsonsafe(profile))
        for name, profile in result.profile.items()
    )
    session.flush()
    return batch


def _refuse_reserved_columns(columns: list[str]) -> None:
    reserved = [c for c in columns if c in (ROW_NUMBER, RULE_IDS, REASONS) or c.startswith("__")]
    if reserved:
        raise InvalidInput(
            f"column names {reserved} are reserved for quarantine bookkeeping; rename them",
            field="body",
            rule="reserved_column_names",
        )


def _rule_rows(batch_id: uuid.UUID, outcomes: list[RuleOutcome]) -> list[RuleResult]:
    return [
        RuleResult(
            batch_id=batch_id,
            position=i,
            rule_id=o.rule_id,
            kind=o.kind,
            field=o.field,
            action=o.action.value,
            passed=o.passed,
            observed=jsonsafe(o.observed),
            threshold=jsonsafe(o.threshold),
            failing_rows=int(o.failing_rows),
            examples=jsonsafe(o.examples),
            message=jsonsafe(o.message)[:2000],
        )
        for i, o in enumerate(outcomes)
    ]


def _deprecated_outcome(version: str) -> RuleOutcome:
    return RuleOutcome(
        "contract.deprecated",
        "contract",
        None,
        Action.warn,
        False,
        version,
        "active",
        0,
        [],
        f"contract version {version} is deprecated; move producers to a newer version",
    )


BATCH_STATUSES = ("passed", "warned", "quarantined", "rejected")


def batch_counts(
    session: Session,
    *,
    contract_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, int]:
    """Batches received in [since, until) by status (every status present, zero or not)."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since", field="until", rule="after_since")
    found = repository.count_batches_by_status(
        session, contract_id=contract_id, since=since, until=until
    )
    counts = {status: found.get(status, 0) for status in BATCH_STATUSES}
    return {**counts, "total": sum(counts.values())}


def list_batches(
    session: Session,
    *,
    contract_id: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> list[Batch]:
    """Batches received in [since, until), newest first."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since", field="until", rule="after_since")
    return repository.list_batches(
        session,
        contract_id=contract_id,
        status=status,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


def get_batch(session: Session, batch_id: uuid.UUID) -> Batch:
    batch = repository.get_batch(session, batch_id)
    if batch is None:
        raise BatchNotFound(f"no batch {batch_id}", field="batch_id")
    return batch


def batch_details(session: Session, batch_id: uuid.UUID) -> tuple[Batch, list[RuleResult]]:
    batch = get_batch(session, batch_id)
    return batch, repository.rule_results(session, batch_id)


def batch_profile(session: Session, batch_id: uuid.UUID) -> list[ColumnProfile]:
    """The per-column profile of a batch's accepted rows (404 when the batch does not exist)."""
    get_batch(session, batch_id)
    return repository.profiles(session, batch_id)


def quarantined_rows(
    session: Session, batch_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Batch, list[dict[str, Any]]]:
    """Quarantined rows with their original values, row number, rule ids and reasons."""
    batch = get_batch(session, batch_id)
    frame = read_verified(Path(batch.quarantine_path), batch.quarantine_sha256)
    page = frame.slice(offset, limit)
    ordered = [ROW_NUMBER, RULE_IDS, REASONS] + [
        c for c in page.columns if c not in (ROW_NUMBER, RULE_IDS, REASONS)
    ]
    rows = page.select(ordered).rows(named=True)
    return batch, [jsonsafe(r) for r in rows]


def read_accepted(batch: Batch) -> pl.DataFrame:
    return read_verified(Path(batch.accepted_path), batch.accepted_sha256)


def contract_freshness(session: Session, contract_id: str) -> dict[str, Any]:
    """Is data for this contract arriving on time, and is the newest data within its SLA?"""
    contract = contracts.get_contract(session, contract_id)
    spec = contracts.spec_of(
        contracts.resolve_version(session, contract_id, contract.latest_version)
    )
    last_batch_at, newest_event_at, batches = repository.freshness_facts(session, contract_id)
    now = utcnow()
    fr = spec.freshness
    max_lag = fr.max_lag_delta.total_seconds() if fr else None
    cadence = fr.cadence_delta.total_seconds() if fr and fr.cadence_delta else None
    since_batch = (now - last_batch_at).total_seconds() if last_batch_at else None
    lag = (now - newest_event_at).total_seconds() if newest_event_at else None
    if batches == 0:
        status = "no_data"
    elif cadence is not None and since_batch is not None and since_batch > cadence:
        status = "late"
    elif max_lag is not None and (lag is None or lag > max_lag):
        status = "stale"
    else:
        status = "fresh"
    return {
        "contract_id": contract_id,
        "status": status,
        "checked_at": now,
        "batches": batches,
        "last_batch_at": last_batch_at,
        "seconds_since_last_batch": since_batch,
        "expected_cadence_seconds": cadence,
        "newest_event_at": newest_event_at,
        "lag_seconds": lag,
        "max_lag_seconds": max_lag,
        "freshness_field": fr.field if fr else None,
    }
