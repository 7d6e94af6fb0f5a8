"""Errors of batch intake (the batch could not be checked at all, as opposed to failing checks)."""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, MalformedInput, NotFound, UnsupportedMediaType


class BatchNotFound(NotFound):
    type_slug = "batch-not-found"


class UnreadableBatch(MalformedInput):
    type_slug = "unreadable-batch"


class UnsupportedBatchFormat(UnsupportedMediaType):
    type_slug = "unsupported-batch-format"


class IdempotencyKeyReused(InvalidInput):
    """The same Idempotency-Key arrived with a different body."""

    type_slug = "idempotency-key-reused"


class IdempotencyKeyInProgress(Conflict):
    """Another request with this Idempotency-Key is still being processed."""

    type_slug = "idempotency-key-in-progress"


class StoredFileCorrupt(Conflict):
    type_slug = "stored-file-corrupt"
