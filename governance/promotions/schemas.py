"""API shapes of promotion governance: requests, approvals, overrides, rollback, policy, bake.

Request bodies are closed (`RequestModel`): a field the server sets (state, quorum, policy,
requester, binding) cannot be sent, and an unknown field is refused with 422.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from core.schemas import RequestModel, ResponseModel

GateName = Literal["metrics", "training_data", "incidents", "slices", "artifact", "error_budget"]


class PromotionRequestCreate(RequestModel):
    justification: str = Field(
        min_length=1, max_length=4000, description="Why this version should be served."
    )


class ApprovalCreate(RequestModel):
    decision: Literal["approve", "reject"] = Field(description="`approve` or `reject`.")
    comment: str = Field(default="", max_length=4000, description="What the reviewer checked.")


class WithdrawCreate(RequestModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why it is withdrawn.")


class BakeConfirmCreate(RequestModel):
    reason: str = Field(
        min_length=1, max_length=2000, description="What evidence the person relied on."
    )


class OverrideCreate(RequestModel):
    gates: list[GateName] = Field(
        min_length=1, max_length=6, description="Every gate that blocks, by name."
    )
    reason: str = Field(
        min_length=10, max_length=4000, description="Why promoting despite them is right."
    )


class RollbackCreate(RequestModel):
    reason: str = Field(min_length=1, max_length=4000, description="Why (kept in the audit trail).")
    from_version: int | None = Field(
        default=None,
        ge=1,
        description="The champion you mean to roll back; if it moved meanwhile, nothing happens "
        "(409) instead of rolling back twice.",
    )


class GateRead(ResponseModel):
    name: str = Field(description="Gate name.")
    status: str = Field(description="passed, failed, not_evaluated or disabled.")
    summary: str = Field(description="One line on what was found.")
    details: dict[str, Any] = Field(description="The facts behind the verdict.")
    blocking: bool = Field(description="Whether it blocks approval (false once overridden).")
    overridden: dict[str, Any] | None = Field(
        default=None,
        description="The admin override in force that lifted this gate: by, at, reason, "
        "confirmed_by (null if not overridden).",
    )


class BindingRead(ResponseModel):
    artifact_sha256: str = Field(description="SHA-256 of the artifact's bytes when gated.")
    metrics_sha256: str = Field(description="Hash of registered and gate-evaluated metrics.")
    policy_version: int = Field(description="Policy version the gates ran under (0: built-in).")
    champion_version: int | None = Field(description="Champion the candidate was compared with.")
    evidence_sha256: str = Field(
        description="Hash of the gate evidence: the training contracts' versions, the training "
        "batches' check records and the open incidents upstream."
    )


class ApprovalRead(ResponseModel):
    reviewer: str = Field(description="The reviewing principal (person), whatever token they used.")
    decision: str = Field(description="approve or reject.")
    comment: str = Field(description="Reviewer's comment.")
    decided_at: datetime = Field(description="When.")
    binding: BindingRead = Field(description="What the decision was given for.")
    voided_at: datetime | None = Field(default=None, description="When it lapsed, if it did.")
    void_reason: str | None = Field(default=None, description="Why it lapsed.")


class PromotionRequestRead(ResponseModel):
    id: uuid.UUID = Field(description="Request id.")
    model_name: str = Field(description="Model.")
    version: int = Field(description="Candidate version.")
    state: str = Field(description="open, approved, rejected, expired, withdrawn or promoted.")
    justification: str = Field(description="Why, per the requester.")
    requested_by: str = Field(description="Requester (token name).")
    requested_at: datetime = Field(description="When it was opened.")
    version_created_by: str = Field(description="Who registered the version.")
    binding: BindingRead = Field(description="What approvals bind to.")
    quorum: int = Field(description="Distinct approving principals needed (from the policy).")
    approvals_live: int = Field(description="Approvals that currently count.")
    auto_promote: bool = Field(description="Promoted as soon as approved.")
    expires_at: datetime = Field(description="When an undecided request expires.")
    gates: list[GateRead] = Field(description="Gate results.")
    blocking_gates: list[str] = Field(
        description="Gates that block approval (an override in force lifts the ones it names)."
    )
    gates_evaluated_at: datetime = Field(description="When the gates last ran.")
    evaluation: dict[str, Any] | None = Field(
        default=None, description="Candidate vs champion on the same evaluation rows."
    )
    override: dict[str, Any] | None = Field(default=None, description="Admin override, if any.")
    decided_at: datetime | None = Field(default=None, description="When it left `open`.")
    decided_by: str | None = Field(default=None, description="Who (or what) decided.")
    promoted_at: datetime | None = Field(default=None, description="When it was promoted.")
    promoted_by: str | None = Field(default=None, description="Who promoted it.")
    previous_version: int | None = Field(default=None, description="Champion before promotion.")
    bake_state: str | None = Field(
        default=None, description="baking, confirmed, rolled_back or superseded."
    )
    bake_until: datetime | None = Field(default=None, description="End of the bake period.")
    bake_result: dict[str, Any] | None = Field(default=None, description="Last bake verdict.")
    approvals: list[ApprovalRead] = Field(description="Every decision, live and voided.")


class RollbackRead(ResponseModel):
    model_name: str = Field(description="Model.")
    from_version: int = Field(description="The champion that was rolled back.")
    to_version: int = Field(description="The champion now served.")
    reason: str = Field(description="Why.")
    at: datetime = Field(description="When.")
    by: str = Field(description="Who.")


class PolicyRead(ResponseModel):
    version: int = Field(description="Policy version; 0 is the built-in default.")
    source: str = Field(description="The YAML as published.")
    document: dict[str, Any] = Field(description="The parsed policy with every default filled.")
    sha256: str = Field(description="SHA-256 of the YAML.")
    comment: str = Field(description="Publisher's note.")
    created_at: datetime | None = Field(default=None, description="When it was published.")
    created_by: str = Field(description="Who published it.")


class SignalRead(ResponseModel):
    name: str = Field(description="error_rate, latency, score_shift or quality.")
    status: str = Field(description="ok, breach or no_data.")
    value: float | None = Field(default=None, description="Observed value.")
    threshold: float | None = Field(default=None, description="Policy threshold.")
    detail: str = Field(description="How it was measured, or what is missing.")


class BakeRead(ResponseModel):
    request_id: str = Field(description="Promotion request.")
    model_name: str = Field(description="Model.")
    version: int = Field(description="The promoted version.")
    verdict: str = Field(description="baking, breach, confirm, hold or superseded (right now).")
    at: datetime = Field(description="When evaluated.")
    bake_until: datetime | None = Field(default=None, description="End of the bake period.")
    signals: list[SignalRead] = Field(description="Each live signal.")
