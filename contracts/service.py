"""Contract registry rules: register, evolve under a compatibility mode, deprecate, diff."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from contracts import compat, repository
from contracts.errors import (
    ContractExists,
    ContractNotFound,
    ContractVersionNotFound,
    IncompatibleChange,
    InvalidContractSpec,
    VersionNotIncreasing,
)
from contracts.models import Contract, ContractVersion
from contracts.spec import Compatibility, ContractSpec
from core import audit
from core.auth import Principal
from core.clock import utcnow


def spec_of(version: ContractVersion) -> ContractSpec:
    return ContractSpec.model_validate(version.spec)


def register_contract(
    session: Session,
    actor: Principal,
    *,
    spec: ContractSpec,
    source_format: str = "driftgate",
    import_report: dict[str, Any] | None = None,
) -> ContractVersion:
    """Create a contract with its first version; an existing id is a conflict."""
    if repository.get_contract(session, spec.id) is not None:
        raise ContractExists(
            f"contract {spec.id!r} already exists; "
            f"post new versions to /contracts/{spec.id}/versions",
            field="id",
            rule="unique",
        )
    now = utcnow()
    contract = Contract(
        id=spec.id,
        dataset_namespace=spec.dataset.namespace,
        dataset_name=spec.dataset.name,
        owner=spec.owner,
        compatibility=spec.compatibility.value,
        latest_version=spec.version,
        created_at=now,
        created_by=actor.name,
        updated_at=now,
    )
    session.add(contract)
    session.flush()
    version = _add_version_row(session, actor, spec, source_format, import_report)
    audit.record(
        session,
        actor=actor.name,
        action="contract.register",
        object_type="contract",
        object_id=spec.id,
        after={"version": spec.version, "fingerprint": version.fingerprint},
    )
    return version


def register_contracts(
    session: Session,
    actor: Principal,
    *,
    loaded: list[tuple[ContractSpec, str, dict[str, Any] | None]],
) -> list[ContractVersion]:
    """Register each (spec, source format, import report) in the caller's one transaction, so
    a multi-table ODCS document goes in whole or not at all (any existing id: 409)."""
    ids = [spec.id for spec, _, _ in loaded]
    if len(set(ids)) != len(ids):
        raise InvalidContractSpec(
            f"the document imports as contract ids {ids}; they must differ",
            field="id",
            rule="unique",
        )
    return [
        register_contract(session, actor, spec=spec, source_format=source, import_report=report)
        for spec, source, report in loaded
    ]


def add_version(
    session: Session,
    actor: Principal,
    *,
    contract_id: str,
    spec: ContractSpec,
    source_format: str = "driftgate",
    import_report: dict[str, Any] | None = None,
) -> tuple[ContractVersion, list[compat.Change]]:
    """Add a version; it must be newer and respect the compatibility mode unless major bumps."""
    if spec.id != contract_id:
        raise InvalidContractSpec(
            f"document id {spec.id!r} does not match contract {contract_id!r}",
            field="id",
            rule="matches_path",
        )
    contract = repository.get_contract(session, contract_id, for_update=True)
    if contract is None:
        raise ContractNotFound(f"no contract {contract_id!r}", field="id")
    latest = repository.latest_version(session, contract_id)
    assert latest is not None  # a contract always has its first version
    previous = spec_of(latest)
    if spec.semver <= previous.semver:
        raise VersionNotIncreasing(
            f"version {spec.version} must be greater than the latest {previous.version}",
            field="version",
            rule="version_increases",
        )
    mode = Compatibility(contract.compatibility)
    broken = compat.violations(previous, spec, mode)
    if broken:
        raise IncompatibleChange(
            f"{len(broken)} change(s) break {mode.value} compatibility with {previous.version}; "
            "bump the major version or change the compatibility mode",
            field="version",
            rule=f"compatibility_{mode.value.lower()}",
            errors=[{"field": c.path, "rule": c.kind, **c.to_json()} for c in broken],
        )
    version = _add_version_row(session, actor, spec, source_format, import_report)
    before = {"version": previous.version, "compatibility": contract.compatibility}
    contract.latest_version = spec.version
    contract.owner = spec.owner
    contract.compatibility = spec.compatibility.value
    contract.dataset_namespace, contract.dataset_name = spec.dataset.namespace, spec.dataset.name
    contract.updated_at = utcnow()
    changes = compat.diff(previous, spec)
    audit.record(
        session,
        actor=actor.name,
        action="contract.version.add",
        object_type="contract",
        object_id=contract_id,
        before=before,
        after={"version": spec.version, "compatibility": contract.compatibility},
        changes=[c.to_json() for c in changes],
    )
    return version, changes


def _add_version_row(
    session: Session,
    actor: Principal,
    spec: ContractSpec,
    source_format: str,
    import_report: dict[str, Any] | None,
) -> ContractVersion:
    sv = spec.semver
    row = ContractVersion(
        contract_id=spec.id,
        version=spec.version,
        major=sv.major,
        minor=sv.minor,
        patch=sv.patch,
        spec=spec.to_document(),
        fingerprint=spec.fingerprint(),
        source_format=source_format,
        import_report=import_report,
        status="active",
        created_at=utcnow(),
        created_by=actor.name,
    )
    session.add(row)
    session.flush()
    return row


def deprecate_version(
    session: Session, actor: Principal, *, contract_id: str, version: str, reason: str
) -> ContractVersion:
    """Mark a version deprecated; batches against it still validate but are flagged."""
    row = get_version(session, contract_id, version)
    if row.status == "deprecated":
        return row
    row.status = "deprecated"
    row.deprecated_at = utcnow()
    row.deprecation_reason = reason
    audit.record(
        session,
        actor=actor.name,
        action="contract.version.deprecate",
        object_type="contract",
        object_id=contract_id,
        before={"version": version, "status": "active"},
        after={"version": version, "status": "deprecated", "reason": reason},
    )
    return row


def list_contracts(session: Session, *, limit: int, offset: int) -> list[Contract]:
    return repository.list_contracts(session, limit=limit, offset=offset)


def list_versions(session: Session, contract_id: str) -> list[ContractVersion]:
    """A contract's versions, oldest first (404 when the contract does not exist)."""
    get_contract(session, contract_id)
    return repository.list_versions(session, contract_id)


def get_contract(session: Session, contract_id: str) -> Contract:
    contract = repository.get_contract(session, contract_id)
    if contract is None:
        raise ContractNotFound(f"no contract {contract_id!r}", field="id")
    return contract


def latest_version_key(session: Session, contract_id: str) -> tuple[str, str]:
    """The newest version's number and fingerprint, without reading its document."""
    key = repository.latest_version_key(session, contract_id)
    if key is None:
        raise ContractNotFound(f"no contract {contract_id!r}", field="id")
    return key


def get_version(session: Session, contract_id: str, version: str) -> ContractVersion:
    get_contract(session, contract_id)
    row = repository.get_version(session, contract_id, version)
    if row is None:
        raise ContractVersionNotFound(
            f"contract {contract_id!r} has no version {version!r}", field="version"
        )
    return row


def resolve_version(session: Session, contract_id: str, version: str | None) -> ContractVersion:
    """An explicit version, or the newest active one."""
    if version is not None:
        return get_version(session, contract_id, version)
    get_contract(session, contract_id)
    row = repository.latest_version(session, contract_id, active_only=True)
    if row is None:
        raise ContractVersionNotFound(
            f"every version of {contract_id!r} is deprecated; name one explicitly", field="version"
        )
    return row


def diff_versions(
    session: Session, contract_id: str, *, from_version: str, to_version: str
) -> tuple[list[compat.Change], dict[str, list[str]]]:
    """All changes between two versions and which modes each one would break."""
    a = spec_of(get_version(session, contract_id, from_version))
    b = spec_of(get_version(session, contract_id, to_version))
    changes = compat.diff(a, b)
    verdicts = {
        mode.value: [c.path for c in compat.violations(a, b, mode)] for mode in Compatibility
    }
    return changes, verdicts
