"""API shapes of the model registry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from core.bounds import INT32_MAX
from core.schemas import RequestModel, ResponseModel

MODEL_NAME = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
SHA256 = r"^[0-9a-f]{64}$"


class SignatureInput(RequestModel):
    name: str = Field(min_length=1, max_length=200, description="Feature name.")
    kind: Literal["numeric", "categorical"] = Field(description="How the model reads it.")
    dtype: str = Field(min_length=1, max_length=20, description="Tensor dtype, e.g. `float32`.")
    transform: str | None = Field(default=None, max_length=50, description="e.g. `log1p`.")
    vocabulary_size: int | None = Field(
        default=None, ge=1, description="Categorical vocabulary size (index 0 is unknown)."
    )


class Signature(RequestModel):
    inputs: list[SignatureInput] = Field(
        min_length=1, max_length=1000, description="Model inputs, in order."
    )
    output: dict[str, Any] = Field(description="What the model returns.")


class TrainingBatchRef(RequestModel):
    batch_id: uuid.UUID = Field(description="A batch accepted by driftgate's checks.")
    contract_id: str = Field(max_length=100, description="Its contract.")
    contract_version: str = Field(max_length=100, description="The contract version it passed.")
    accepted_sha256: str = Field(pattern=SHA256, description="SHA-256 of its accepted rows.")
    rows_used: int = Field(ge=0, description="Rows of it the training read.")


class ModelVersionCreate(RequestModel):
    artifact_uri: str = Field(
        min_length=1,
        max_length=1000,
        description="`file://` URI of the artifact under the data directory's `models/`.",
    )
    artifact_sha256: str = Field(pattern=SHA256, description="SHA-256 of the artifact file.")
    signature: Signature = Field(description="The model's feature schema.")
    metrics: dict[str, Any] = Field(
        min_length=1, description="Offline metrics, e.g. per scorer AUC, log loss, NDCG@10."
    )
    training_data: list[TrainingBatchRef] = Field(
        min_length=1, max_length=100_000, description="Every batch the training read."
    )
    contract_versions: dict[str, list[str]] | None = Field(
        default=None,
        description="Contract versions of the training data; derived from `training_data` "
        "when omitted, and must agree with it when given.",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Training configuration.")
    description: str = Field(default="", max_length=2000, description="Free text.")


class ModelVersionRead(ResponseModel):
    model_name: str = Field(description="Registered model.")
    version: int = Field(description="Version number, 1, 2, … (assigned by the registry).")
    artifact_uri: str = Field(description="Where the artifact is stored.")
    artifact_sha256: str = Field(description="SHA-256 serving verifies before loading.")
    artifact_bytes: int = Field(description="Artifact size.")
    signature: dict[str, Any] = Field(description="Feature schema.")
    metrics: dict[str, Any] = Field(description="Offline metrics.")
    training_data: list[dict[str, Any]] = Field(description="Batches trained on.")
    contract_versions: dict[str, list[str]] = Field(description="Their contract versions.")
    params: dict[str, Any] = Field(description="Training configuration.")
    description: str = Field(description="Free text.")
    created_at: datetime = Field(description="When it was registered.")
    created_by: str = Field(description="Who registered it.")


class ModelRead(ResponseModel):
    name: str = Field(description="Model name.")
    description: str = Field(description="Free text.")
    latest_version: int = Field(description="Newest version number.")
    champion_version: int | None = Field(
        default=None, description="The version POST /rank serves, if one is set."
    )
    created_at: datetime = Field(description="When the first version was registered.")
    created_by: str = Field(description="Who registered it.")


class ChampionSet(RequestModel):
    version: int = Field(ge=1, le=INT32_MAX, description="Version to serve.")
    reason: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"\S",
        description="Why (kept in the audit trail); required: this path skips the approvals.",
    )


class BreakGlassProposalRead(ResponseModel):
    model_name: str = Field(description="Model name.")
    version: int = Field(description="The version proposed as champion.")
    proposed_by: str = Field(description="The admin (principal) who proposed it.")
    reason: str = Field(description="Their reason.")
    proposed_at: datetime = Field(description="When.")
    expires_at: datetime = Field(
        description="A second admin must repeat the same move before this."
    )


class ChampionRead(ResponseModel):
    model_name: str = Field(description="Model name.")
    alias: str = Field(description="Always `champion`.")
    version: int = Field(description="The version POST /rank serves.")
    reason: str = Field(description="Why it was set.")
    set_at: datetime = Field(description="When.")
    set_by: str = Field(description="By whom (an admin).")
