"""What approvals are given for, the binding: the artifact's sha256, the metrics (registered
and as the gates compared them), the policy version, the champion and the gate evidence.
When any part changes, the gates run again and the approvals are void."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.errors import DriftgateError
from core.settings import Settings
from governance.promotions import gates
from governance.promotions.models import PromotionRequest
from governance.promotions.policy_document import canonical_sha256
from governance.promotions.policy_versions import active_policy
from governance.registry import repository
from governance.registry.models import ModelVersion
from ranker import artifact


@dataclass(frozen=True)
class Binding:
    """What an approval is given for; any change voids it."""

    artifact_sha256: str
    metrics_sha256: str
    policy_version: int
    champion_version: int | None
    evidence_sha256: str


def binding_of(req: PromotionRequest) -> Binding:
    return Binding(
        req.artifact_sha256,
        req.metrics_sha256,
        req.policy_version,
        req.champion_version,
        req.evidence_sha256,
    )


def metrics_sha256(version: ModelVersion, evaluation: dict[str, Any] | None) -> str:
    """Registered metrics plus the gate comparison: approvals bind to both."""
    evaluated = None
    if evaluation:
        evaluated = {k: evaluation.get(k) for k in ("window", "candidate", "champion", "slices")}
    return canonical_sha256({"registered": version.metrics, "evaluated": evaluated})


def artifact_sha256_on_disk(version: ModelVersion, data_dir: Any) -> str:
    """The sha256 of the artifact's bytes as stored now (`missing` when unreadable)."""
    try:
        return artifact.sha256_file(artifact.path_of(version.artifact_uri, data_dir))[0]
    except (OSError, DriftgateError):
        return "missing"


def live_binding(
    session: Session, req: PromotionRequest, version: ModelVersion, settings: Settings
) -> Binding:
    champion = repository.get_alias(session, req.model_name)
    return Binding(
        artifact_sha256_on_disk(version, settings.data_dir),
        metrics_sha256(version, req.evaluation),
        active_policy(session).version,
        champion.version if champion else None,
        evidence_sha256(session, version, settings),
    )


def evidence_sha256(session: Session, version: ModelVersion, settings: Settings) -> str:
    """Hash of the gate evidence (`gates.evidence`): approvals bind to what they saw."""
    ctx = gates.Context(version, None, settings.data_dir, settings.lineage_namespace)
    return canonical_sha256(gates.evidence(session, ctx))


def changed_parts(before: Binding, after: Binding) -> list[str]:
    a, b = asdict(before), asdict(after)
    return [k for k in a if a[k] != b[k]]


def why_void(before: Binding, after: Binding) -> str:
    return "binding changed: " + ", ".join(changed_parts(before, after))
