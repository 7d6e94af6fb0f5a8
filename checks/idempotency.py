"""Idempotency keys of batch submissions: a retry gets the first request's batch, never a copy.

Follows draft-ietf-httpapi-idempotency-key-header: 409 while the key's first request is still
running, 422 when the key comes back with another request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from checks import repository
from checks.errors import IdempotencyKeyInProgress, IdempotencyKeyReused
from checks.models import IdempotencyKey


@dataclass(frozen=True)
class KeyedRequest:
    """What a key covers: one principal's request for one body, contract, version and format."""

    principal: str
    key: str
    contract_id: str
    version: str | None
    body_sha256: str
    body_format: str


def first_batch(session: Session, request: KeyedRequest) -> uuid.UUID | None:
    """The batch a finished key stored, or None when this request is the first with it.

    A finished key is looked up before any lock, so replays of it never wait on each other or
    get a 409; only a key whose first request is still running is refused as in progress. The
    second look-up under the lock catches a first request that finished between the two. The
    lock is the transaction's, so the first request holds it until it commits or rolls back.
    """
    previous = repository.find_idempotency_key(session, request.principal, request.key)
    if previous is None:
        if not repository.try_lock_idempotency_key(session, request.principal, request.key):
            raise IdempotencyKeyInProgress(
                "a request with this Idempotency-Key is still being processed; retry later",
                field="Idempotency-Key",
                rule="one_request_at_a_time",
            )
        previous = repository.find_idempotency_key(session, request.principal, request.key)
        if previous is None:
            return None
    mismatch = key_mismatch(previous, request)
    if mismatch is not None:
        parameter, rule = mismatch
        raise IdempotencyKeyReused(
            f"this Idempotency-Key was first used with another {parameter}; "
            "a key covers the whole request, so use a new key for a different one",
            field="Idempotency-Key",
            rule=rule,
            extra={"parameter": parameter},
        )
    return previous.batch_id


def key_mismatch(previous: IdempotencyKey, request: KeyedRequest) -> tuple[str, str] | None:
    """The first request parameter that differs from the key's first request, and its rule."""
    if previous.body_sha256 != request.body_sha256:
        return "body", "same_key_same_body"
    if previous.contract_id != request.contract_id:
        return "contract", "same_key_same_contract"
    if previous.body_format is None:  # stored before version and format were recorded
        return None
    if previous.requested_version != request.version:
        return "version", "same_key_same_version"
    if previous.body_format != request.body_format:
        return "Content-Type", "same_key_same_format"
    return None


def remember(
    session: Session, request: KeyedRequest, *, batch_id: uuid.UUID, created_at: datetime
) -> None:
    """Record the key with the batch its first request stored, in that request's transaction."""
    session.add(
        IdempotencyKey(
            principal=request.principal,
            key=request.key,
            body_sha256=request.body_sha256,
            contract_id=request.contract_id,
            requested_version=request.version,
            body_format=request.body_format,
            batch_id=batch_id,
            created_at=created_at,
        )
    )
