"""The versioned promotion policy: admins publish YAML, every version is kept, the newest
governs new requests (and voids approvals given under an older one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core import audit
from core.auth import Principal
from core.clock import utcnow
from governance.promotions import repository as repo
from governance.promotions.errors import PolicyVersionNotFound
from governance.promotions.models import PromotionPolicy
from governance.promotions.policy_document import (
    DEFAULT_POLICY_YAML,
    PolicyDocument,
    document_sha256,
    normalized,
    parse_policy,
)

BUILTIN_ACTOR = "driftgate (built-in)"


@dataclass(frozen=True)
class ActivePolicy:
    version: int
    document: PolicyDocument
    source: str
    sha256: str
    comment: str
    created_at: datetime | None
    created_by: str

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "source": self.source,
            "document": normalized(self.document),
            "sha256": self.sha256,
            "comment": self.comment,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


def _from_row(row: PromotionPolicy) -> ActivePolicy:
    return ActivePolicy(
        version=row.version,
        document=PolicyDocument.model_validate(row.document),
        source=row.source,
        sha256=row.sha256,
        comment=row.comment,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def builtin_policy() -> ActivePolicy:
    """Version 0: the defaults, in force until an admin publishes a policy."""
    return ActivePolicy(
        version=0,
        document=parse_policy(DEFAULT_POLICY_YAML),
        source=DEFAULT_POLICY_YAML,
        sha256=document_sha256(DEFAULT_POLICY_YAML),
        comment="built-in defaults",
        created_at=None,
        created_by=BUILTIN_ACTOR,
    )


def active_policy(session: Session) -> ActivePolicy:
    row = repo.latest_policy(session)
    return _from_row(row) if row else builtin_policy()


def policy_at(session: Session, version: int) -> ActivePolicy:
    if version == 0:
        return builtin_policy()
    row = repo.policy_version(session, version)
    if row is None:
        raise PolicyVersionNotFound(f"no policy version {version}", field="version")
    return _from_row(row)


def list_versions(session: Session) -> list[ActivePolicy]:
    return [builtin_policy(), *(_from_row(r) for r in repo.list_policies(session))]


def publish_policy(
    session: Session, actor: Principal, *, source: str | bytes, comment: str = ""
) -> ActivePolicy:
    """Validate and store a new version (admins only, checked by the route); audited."""
    document = parse_policy(source)
    text_source = source.decode("utf-8") if isinstance(source, bytes) else source
    repo.lock_policy_publishing(session)
    latest = repo.latest_policy(session)
    row = PromotionPolicy(
        version=(latest.version if latest else 0) + 1,
        source=text_source,
        document=normalized(document),
        sha256=document_sha256(text_source),
        comment=comment[:2000],
        created_at=utcnow(),
        created_by=actor.name,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="promotion.policy.publish",
        object_type="promotion_policy",
        object_id=str(row.version),
        before={"version": latest.version if latest else 0},
        after={"version": row.version, "sha256": row.sha256, "document": row.document},
        comment=row.comment,
    )
    return _from_row(row)
