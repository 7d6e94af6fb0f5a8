"""The promotion policy document: which gates run with which thresholds, the approval quorum,
expiry, automatic promotion and the bake period. Pure: parsing and validation, no I/O.

Admins send it as YAML; every key is closed (an unknown key is refused, so a typo can never
silently switch a gate off), and a refusal names the field and the rule.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from contracts.durations import parse_duration
from core.safe_parse import load_yaml
from governance.promotions.errors import InvalidPolicy, UnreadablePolicy

GATE_NAMES = ("metrics", "training_data", "incidents", "slices", "artifact", "error_budget")
BAKE_SIGNALS = ("error_rate", "latency", "score_shift", "quality")
METRICS = ("auc", "log_loss", "ndcg@10")
LOWER_IS_BETTER = frozenset({"log_loss"})
OnNotEvaluated = Literal["allow", "block"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Gate(_Closed):
    enabled: bool = Field(default=True, description="Run this gate (a disabled gate is shown).")
    on_not_evaluated: OnNotEvaluated = Field(
        default="allow",
        description="`block`: a gate that cannot be evaluated blocks approval like a failure.",
    )


class MetricsGate(_Gate):
    margins: dict[Literal["auc", "log_loss", "ndcg@10"], float] = Field(
        default={"auc": 0.005, "log_loss": 0.005, "ndcg@10": 0.01},
        min_length=1,
        description="How much worse than the champion each metric may be, on the same data.",
    )

    @field_validator("margins")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for name, margin in value.items():
            if not 0 <= margin < 1:
                raise PydanticCustomError("margin_range", f"margin of {name} must be in [0, 1)")
        return value


class TrainingDataGate(_Gate):
    on_not_evaluated: OnNotEvaluated = Field(
        default="block",
        description="A version whose training data cannot be judged is not approvable.",
    )
    max_quarantine_rate: float = Field(
        default=0.05, ge=0, le=1, description="Largest share of quarantined rows per batch."
    )


class IncidentsGate(_Gate):
    severities: list[Literal["critical", "major", "minor"]] = Field(
        default=["critical"],
        min_length=1,
        description="Open incidents of these severities on upstream datasets block.",
    )


class SlicesGate(_Gate):
    by: list[Literal["country", "device"]] = Field(
        default=["country", "device"], min_length=1, description="Segments."
    )
    metrics: list[Literal["auc", "log_loss"]] = Field(
        default=["auc"], min_length=1, description="Compared per segment."
    )
    margin: float = Field(default=0.02, ge=0, lt=1, description="Allowed loss per segment.")
    min_rows: int = Field(default=500, ge=1, description="Smaller segments are not judged.")
    min_positives: int = Field(default=20, ge=1, description="Clicks a segment needs.")


class ArtifactGate(_Gate):
    on_not_evaluated: OnNotEvaluated = Field(
        default="block", description="An artifact that cannot be checked is not approvable."
    )


class ErrorBudgetGate(_Gate):
    slos: list[str] = Field(
        default_factory=list, description="SLO ids to check; empty means every enabled SLO."
    )


class Gates(_Closed):
    metrics: MetricsGate = Field(default_factory=MetricsGate)
    training_data: TrainingDataGate = Field(default_factory=TrainingDataGate)
    incidents: IncidentsGate = Field(default_factory=IncidentsGate)
    slices: SlicesGate = Field(default_factory=SlicesGate)
    artifact: ArtifactGate = Field(default_factory=ArtifactGate)
    error_budget: ErrorBudgetGate = Field(default_factory=ErrorBudgetGate)


def _duration(value: str) -> str:
    try:
        parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", str(exc)) from None
    return value


class Bake(_Closed):
    enabled: bool = Field(default=True, description="Watch a new champion after promotion.")
    duration: str = Field(default="PT1H", description="How long the bake period lasts.")
    min_requests: int = Field(default=100, ge=1, description="Requests needed to judge errors.")
    max_error_rate: float = Field(default=0.02, ge=0, le=1, description="Share of 5xx answers.")
    max_latency_p99_ms: float = Field(default=500.0, gt=0, description="p99 of POST /rank.")
    min_predictions: int = Field(default=500, ge=1, description="Scores needed for a shift.")
    max_score_psi: float = Field(default=0.25, gt=0, description="PSI vs offline evaluation.")
    max_auc_drop: float = Field(
        default=0.05, ge=0, lt=1, description="Realized (or estimated) AUC below offline AUC."
    )
    require: list[Literal["error_rate", "latency", "score_shift", "quality"]] = Field(
        default=["error_rate", "latency", "score_shift", "quality"],
        description="Signals that must have data before the bake can confirm.",
    )

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        return _duration(value)

    @property
    def period(self) -> timedelta:
        return parse_duration(self.duration)


class AdminPath(_Closed):
    enabled: bool = Field(default=True, description="Whether admins may use this path at all.")
    second_principal: bool = Field(
        default=False,
        description="A second admin (another principal) must repeat the same step before it "
        "takes effect.",
    )


class PolicyDocument(_Closed):
    quorum: int = Field(default=2, ge=1, le=50, description="Distinct approving reviewers.")
    expires_after: str = Field(default="P7D", description="Open requests expire after this.")
    auto_promote: bool = Field(default=False, description="Promote as soon as approved.")
    gates: Gates = Field(default_factory=Gates)
    bake: Bake = Field(default_factory=Bake)
    override: AdminPath = Field(
        default_factory=AdminPath,
        description="POST /promotion-requests/{id}/override: admins letting failed gates pass.",
    )
    break_glass: AdminPath = Field(
        default_factory=AdminPath,
        description="PUT /models/{name}/champion: admins moving the champion without approvals.",
    )

    @field_validator("expires_after")
    @classmethod
    def _check_expiry(cls, value: str) -> str:
        return _duration(value)

    @property
    def expiry(self) -> timedelta:
        return parse_duration(self.expires_after)

    def gate(self, name: str) -> _Gate:
        gate: _Gate = getattr(self.gates, name)
        return gate


DEFAULT_POLICY_YAML = """\
# driftgate's built-in promotion policy (version 0), used until an admin publishes one.
quorum: 2                 # distinct reviewers who must approve
expires_after: P7D        # open requests expire after a week
auto_promote: false       # an approved request waits for POST .../promote
gates:
  metrics:                # candidate vs champion on the same evaluation data
    margins: {auc: 0.005, log_loss: 0.005, ndcg@10: 0.01}
  training_data:          # every training batch passed its contract checks (driftgate's records)
    max_quarantine_rate: 0.05
    on_not_evaluated: block # no batches named: not approvable
  incidents:              # no open incident of these severities on an upstream dataset
    severities: [critical]
  slices:                 # no segment worse than the champion by more than the margin
    by: [country, device]
    metrics: [auc]
    margin: 0.02
    min_rows: 500
    min_positives: 20
  artifact:               # the bytes hash to the registered sha256 and load as serving loads them
    on_not_evaluated: block
  error_budget:           # no promotion while an SLO's error budget is exhausted
    slos: []              # empty: every enabled SLO
bake:
  duration: PT1H
  min_requests: 100
  max_error_rate: 0.02
  max_latency_p99_ms: 500
  min_predictions: 500
  max_score_psi: 0.25
  max_auc_drop: 0.05
  require: [error_rate, latency, score_shift, quality]
override:                 # admins letting failed gates pass (always with a reason)
  enabled: true
  second_principal: false # true: a second admin must send the same override
break_glass:              # PUT /models/{name}/champion, no approvals (always with a reason)
  enabled: true
  second_principal: false # true: a second admin must repeat the same move
"""


def parse_policy(source: str | bytes) -> PolicyDocument:
    """Parse and validate a YAML (or JSON) policy; refusals name the field and the rule."""
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadablePolicy(
                f"the policy is not valid UTF-8 (byte {exc.start})", field="body", rule="utf8"
            ) from None
    if "\x00" in source:
        raise UnreadablePolicy("the policy contains NUL characters", field="body", rule="no_nul")
    try:
        doc = load_yaml(source)  # bounded depth and alias expansion (422 past them)
    except yaml.YAMLError as exc:
        raise UnreadablePolicy(
            f"the policy does not parse: {exc}", field="body", rule="syntax"
        ) from None
    if not isinstance(doc, dict):
        raise InvalidPolicy(
            "the policy must be a mapping at the top level", field="body", rule="mapping"
        )
    try:
        return PolicyDocument.model_validate(doc)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in err["loc"]) or "body",
                "rule": err["type"],
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        first = errors[0]
        raise InvalidPolicy(
            f"{first['field']}: {first['message']}",
            field=first["field"],
            rule=first["rule"],
            errors=errors,
        ) from None


def normalized(document: PolicyDocument) -> dict[str, Any]:
    return document.model_dump(mode="json")


def document_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def canonical_sha256(value: Any) -> str:
    """SHA-256 of a JSON value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
