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

from checks import repository
from checks.engine import REASONS, ROW_NUMBER, RULE_IDS, RuleOutcome, Validation, complete, evaluate
from checks.errors import (
    BatchNotFound,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
)
from checks.models import Batch, ColumnProfile, IdempotencyKey, RuleResult
from checks.profile import CATEGORY_CAP
from checks.readers import read_batch
from checks.storage import read_verified, remove_tree, write_parquet
from contracts import service as contracts
from contracts.spec import Action
from core import audit
from core.auth import Principal
from core.clock import utcnow
from core.errors import InvalidInput
from core.jsonsafe import jsonsafe
from lineage.batch_lineage import record_batch_check


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
    if idempotency_key is not None:
        replay = _replay(session, actor, idempotency_key, contract_id, version, body)
        if replay is not None:
            return replay

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

    batch_id = uuid.uuid4()
    batch_dir = data_dir / "batches" / contract_id / str(batch_id)
    try:
        # Writing and fsyncing the Parquet files waits mostly on the disk: profile meanwhile
        # (which also fills in the min/max rules' observed extremes from the profile).
        with ThreadPoolExecutor(max_workers=1) as pool:
            written = pool.submit(_write_files, batch_dir, result)
            complete(result, spec, category_cap=category_cap)
            files = written.result()
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        batch = _store(
            session,
            actor,
            batch_id,
            files,
            contract_id,
            contract_version.version,
            result,
            body,
            received_at,
            elapsed_ms,
        )
        if idempotency_key is not None:
            session.add(
                IdempotencyKey(
                    principal=actor.name,
                    key=idempotency_key,
                    body_sha256=body.sha256,
                    contract_id=contract_id,
                    requested_version=version,
                    body_format=body.format,
                    batch_id=batch_id,
                    created_at=received_at,
                )
            )
        record_batch_check(
            session,
            actor,
            batch=batch,
            spec=spec,
            outcomes=result.outcomes,
            profile=result.profile,
            ended_at=utcnow(),
        )
        audit.record(
            session,
            actor=actor.name,
            action="batch.submit",
            object_type="batch",
            object_id=str(batch_id),
            after={
                "contract": contract_id,
                "version": contract_version.version,
                "status": batch.status,
                "rows_received": batch.rows_received,
                "rows_accepted": batch.rows_accepted,
                "rows_quarantined": batch.rows_quarantined,
                "body_sha256": body.sha256,
            },
        )
        session.flush()
    except BaseException:
        remove_tree(batch_dir)  # files without a committed row are never visible; tidy anyway
        raise
    return Submission(batch, replayed=False)


def _replay(
    session: Session,
    actor: Principal,
    key: str,
    contract_id: str,
    version: str | None,
    body: IncomingBatch,
) -> Submission | None:
    """The stored result of a finished key, or None when this request is the first with it.

    A finished key is looked up before any lock, so replays of it never wait on each other or
    get a 409; only a key whose first request is still running is refused as in progress
    (draft-ietf-httpapi-idempotency-key-header: 409 while in progress, 422 when reused for
    another request). The second look-up under the lock catches a first request that finished
    between the two.
    """
    previous = repository.find_idempotency_key(session, actor.name, key)
    if previous is None:
        if not repository.try_lock_idempotency_key(session, actor.name, key):
            raise IdempotencyKeyInProgress(
                "a request with this Idempotency-Key is still being processed; retry later",
                field="Idempotency-Key",
                rule="one_request_at_a_time",
            )
        previous = repository.find_idempotency_key(session, actor.name, key)
        if previous is None:
            return None
    mismatch = key_mismatch(previous, contract_id, version, body)
    if mismatch is not None:
        parameter, rule = mismatch
        raise IdempotencyKeyReused(
            f"this Idempotency-Key was first used with another {parameter}; "
            "a key covers the whole request, so use a new key for a different one",
            field="Idempotency-Key",
            rule=rule,
            extra={"parameter": parameter},
        )
    return Submission(get_batch(session, previous.batch_id), replayed=True)


def key_mismatch(
    previous: IdempotencyKey, contract_id: str, version: str | None, body: IncomingBatch
) -> tuple[str, str] | None:
    """The first request parameter that differs from the key's first request, and its rule."""
    if previous.body_sha256 != body.sha256:
        return "body", "same_key_same_body"
    if previous.contract_id != contract_id:
        return "contract", "same_key_same_contract"
    if previous.body_format is None:  # stored before version and format were recorded
        return None
    if previous.requested_version != version:
        return "version", "same_key_same_version"
    if previous.body_format != body.format:
        return "Content-Type", "same_key_same_format"
    return None


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


def get_batch(session: Session, batch_id: uuid.UUID) -> Batch:
    batch = repository.get_batch(session, batch_id)
    if batch is None:
        raise BatchNotFound(f"no batch {batch_id}", field="batch_id")
    return batch


def batch_details(session: Session, batch_id: uuid.UUID) -> tuple[Batch, list[RuleResult]]:
    batch = get_batch(session, batch_id)
    return batch, repository.rule_results(session, batch_id)


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
