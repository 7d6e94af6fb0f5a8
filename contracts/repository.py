"""Every query of the contracts domain."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts.models import Contract, ContractVersion
from contracts.semver import SemVer


def find_by_dataset(session: Session, dataset: str) -> Contract | None:
    """A contract by id, by dataset name, or by `namespace/name` of its dataset (one match)."""
    found = session.get(Contract, dataset)
    if found is not None:
        return found
    rows = list(
        session.scalars(
            select(Contract).where(
                (Contract.dataset_name == dataset)
                | (func.concat(Contract.dataset_namespace, "/", Contract.dataset_name) == dataset)
            )
        )
    )
    return rows[0] if len(rows) == 1 else None


def get_contract(
    session: Session, contract_id: str, *, for_update: bool = False
) -> Contract | None:
    stmt = select(Contract).where(Contract.id == contract_id)
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def latest_version_key(session: Session, contract_id: str) -> tuple[str, str] | None:
    """(version, fingerprint) of the contract's `latest_version`, or None without a contract."""
    row = session.execute(
        select(ContractVersion.version, ContractVersion.fingerprint)
        .join(
            Contract,
            (Contract.id == ContractVersion.contract_id)
            & (Contract.latest_version == ContractVersion.version),
        )
        .where(Contract.id == contract_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def list_contracts(session: Session, *, limit: int, offset: int) -> list[Contract]:
    stmt = select(Contract).order_by(Contract.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def list_versions(session: Session, contract_id: str) -> list[ContractVersion]:
    rows = session.scalars(
        select(ContractVersion).where(ContractVersion.contract_id == contract_id)
    )
    return sorted(rows, key=lambda v: SemVer.parse(v.version))


def get_version(session: Session, contract_id: str, version: str) -> ContractVersion | None:
    return session.scalar(
        select(ContractVersion).where(
            ContractVersion.contract_id == contract_id, ContractVersion.version == version
        )
    )


def latest_version(
    session: Session, contract_id: str, *, active_only: bool = False
) -> ContractVersion | None:
    versions = list_versions(session, contract_id)
    if active_only:
        versions = [v for v in versions if v.status == "active"]
    return versions[-1] if versions else None
