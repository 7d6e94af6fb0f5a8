"""API shapes of the contracts domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from core.schemas import RequestModel, ResponseModel


class ContractRead(ResponseModel):
    id: str = Field(description="Contract id.")
    dataset_namespace: str = Field(description="Namespace of the governed dataset.")
    dataset_name: str = Field(description="Name of the governed dataset.")
    owner: str = Field(description="Owning team or person.")
    compatibility: str = Field(description="Compatibility mode new versions must respect.")
    latest_version: str = Field(description="Newest version.")
    created_at: datetime = Field(description="When the contract was registered.")
    created_by: str = Field(description="Token name that registered it.")
    updated_at: datetime = Field(description="When the last version was added.")


class ContractVersionRead(ResponseModel):
    contract_id: str = Field(description="Contract id.")
    version: str = Field(description="Semantic version.")
    status: str = Field(description="`active` or `deprecated`.")
    fingerprint: str = Field(description="SHA-256 of the canonical spec.")
    source_format: str = Field(description="`driftgate` or `odcs`.")
    spec: dict[str, Any] = Field(description="The full contract spec.")
    import_report: dict[str, Any] | None = Field(
        default=None, description="For imported documents: what was mapped and what ignored."
    )
    deprecated_at: datetime | None = Field(default=None, description="When it was deprecated.")
    deprecation_reason: str | None = Field(default=None, description="Why it was deprecated.")
    created_at: datetime = Field(description="When the version was added.")
    created_by: str = Field(description="Token name that added it.")


class ChangeRead(ResponseModel):
    path: str = Field(description="What changed, e.g. `fields.price.max`.")
    kind: str = Field(description="Kind of change, e.g. `max_lowered`.")
    old: Any = Field(default=None, description="Old value.")
    new: Any = Field(default=None, description="New value.")
    breaks: list[str] = Field(description="Compatibility directions the change breaks.")


class ContractVersionCreated(ContractVersionRead):
    changes: list[ChangeRead] = Field(
        default_factory=list, description="Changes from the previous version."
    )


class ContractsImported(ResponseModel):
    contracts: list[ContractVersionCreated] = Field(
        description="One contract per schema object of a multi-object ODCS document, in order."
    )


class DiffRead(ResponseModel):
    contract_id: str = Field(description="Contract id.")
    from_version: str = Field(description="Base version.")
    to_version: str = Field(description="Compared version.")
    changes: list[ChangeRead] = Field(description="Every difference, classified.")
    breaking_under: dict[str, list[str]] = Field(
        description="Per compatibility mode, the changed paths it would refuse "
        "(a major version bump allows all)."
    )


class DeprecateRequest(RequestModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why producers should move on.")


class ContractImpactRead(ResponseModel):
    contract_id: str = Field(description="Contract id.")
    version: str = Field(description="The new or proposed version.")
    against: str | None = Field(default=None, description="The version it is compared with.")
    changes: list[dict[str, Any]] = Field(description="Field changes that drop or change a field.")
    fields: list[dict[str, Any]] = Field(
        description="Per affected field, the downstream columns that derive from it."
    )
    lineage_datasets: list[str] = Field(description="Datasets linked to the contract.")
    datasets: list[str] = Field(description="Downstream datasets that read an affected field.")
    may_be_affected: list[str] = Field(
        description="Downstream datasets without column lineage (cannot be ruled out)."
    )
    model_versions: list[dict[str, Any]] = Field(
        description="Model versions built from an affected field."
    )
    prediction_windows: list[dict[str, Any]] = Field(
        description="Served prediction windows built from an affected field."
    )
