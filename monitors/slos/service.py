"""SLOs: declare them, and evaluate error budget and burn rates from Postgres data.

Evaluation is recomputed from the source tables every time (batches, drift windows, ...), so
late data and late labels change the budget on the next evaluation with no bookkeeping.
`time_scale` shrinks the period and every alert window by the same factor, so a simulation
can run a 30-day SLO in 30/scale days while the burn-rate thresholds stay those of the SRE
Workbook.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from contracts import service as contracts
from contracts.durations import parse_duration
from core import audit
from core.auth import Principal
from core.clock import utcnow
from core.jsonsafe import jsonsafe
from core.settings import Settings
from monitors.errors import InvalidSlo, SloExists, SloNotFound
from monitors.slos import repository
from monitors.slos.burn_rate import (
    SRE_RULES,
    BurnRateRule,
    RuleVerdict,
    WindowCounts,
    budget_remaining,
    burn_rate,
    evaluate_rule,
)
from monitors.slos.events import Events, load_events, sparse_widening
from monitors.slos.models import Alert, Slo

KINDS = ("batch_pass_rate", "freshness", "drift_free", "realized_auc")
CONTRACT_KINDS = ("batch_pass_rate", "freshness", "drift_free")


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchPassRateParams(_Params):
    good_statuses: list[Literal["passed", "warned", "quarantined", "rejected"]] = Field(
        default=["passed", "warned"], min_length=1
    )


class FreshnessParams(_Params):
    max_lag_seconds: float | None = Field(default=None, gt=0)
    step_seconds: float = Field(default=60.0, gt=0)


class DriftFreeParams(_Params):
    bad_verdicts: list[Literal["warn", "alert"]] = Field(default=["alert"], min_length=1)
    # one event per slot of this length (epoch-aligned) in which the runner judged any window
    step_seconds: float = Field(default=300.0, ge=1, le=86_400)


class RealizedAucParams(_Params):
    threshold: float = Field(gt=0, lt=1)
    model_name: str = Field(default="ranker", min_length=1, max_length=100)
    # count a window from when its AUC is first known (provisional); else once mature
    include_provisional: bool = True
    # events are sparse (one per quality window, known hours late): each rule window holds
    # at least the newest `min_window_events`, reaching back at most this far past its length
    min_window_events: int = Field(default=1, ge=0, le=100)
    max_window_stretch_seconds: float = Field(default=3600.0, ge=0, le=7 * 86_400)


PARAMS: dict[str, type[_Params]] = {
    "batch_pass_rate": BatchPassRateParams,
    "freshness": FreshnessParams,
    "drift_free": DriftFreeParams,
    "realized_auc": RealizedAucParams,
}


def validate_params(
    session: Session, kind: str, contract_id: str | None, params: dict[str, Any]
) -> dict[str, Any]:
    """Check the kind's parameters and fill defaults (freshness: the contract's SLA)."""
    if kind not in KINDS:
        raise InvalidSlo(
            f"unknown SLO kind {kind!r}; use one of {list(KINDS)}", field="kind", rule="known_kind"
        )
    if kind in CONTRACT_KINDS:
        if not contract_id:
            raise InvalidSlo(
                f"a {kind} SLO needs contract_id", field="contract_id", rule="required_for_kind"
            )
        contracts.get_contract(session, contract_id)
    try:
        parsed = PARAMS[kind].model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidSlo(
            f"params.{loc}: {err['msg']}", field=f"params.{loc}", rule=err["type"]
        ) from None
    doc = parsed.model_dump()
    if kind == "freshness" and doc["max_lag_seconds"] is None:
        assert contract_id is not None
        spec = contracts.spec_of(
            contracts.resolve_version(
                session, contract_id, contracts.get_contract(session, contract_id).latest_version
            )
        )
        if spec.freshness is None:
            raise InvalidSlo(
                f"contract {contract_id!r} has no freshness SLA; set params.max_lag_seconds",
                field="params.max_lag_seconds",
                rule="required_without_contract_sla",
            )
        doc["max_lag_seconds"] = spec.freshness.max_lag_delta.total_seconds()
    return doc


def period_seconds(period: str) -> int:
    try:
        seconds = int(parse_duration(period).total_seconds())
    except ValueError as exc:
        raise InvalidSlo(str(exc), field="period", rule="duration_parses") from None
    if seconds < 60:
        raise InvalidSlo("an SLO period is at least a minute", field="period", rule="min_period")
    return seconds


def create_slo(session: Session, actor: Principal, *, data: dict[str, Any]) -> Slo:
    if repository.get_slo(session, data["id"]) is not None:
        raise SloExists(f"SLO {data['id']!r} already exists", field="id", rule="unique")
    params = validate_params(session, data["kind"], data.get("contract_id"), data["params"])
    now = utcnow()
    slo = Slo(
        id=data["id"],
        name=data["name"],
        kind=data["kind"],
        contract_id=data.get("contract_id"),
        objective=data["objective"],
        params=params,
        period_seconds=period_seconds(data["period"]),
        time_scale=data["time_scale"],
        min_events=data["min_events"],
        pending_seconds=data["pending_seconds"],
        runbook_url=data.get("runbook_url"),
        enabled=data["enabled"],
        created_at=now,
        created_by=actor.name,
        updated_at=now,
    )
    session.add(slo)
    session.flush()
    audit.record(
        session,
        actor=actor.name,
        action="slo.create",
        object_type="slo",
        object_id=slo.id,
        after=slo_document(slo),
    )
    return slo


def update_slo(
    session: Session,
    actor: Principal,
    *,
    slo_id: str,
    changes: dict[str, Any],
    settings: Settings,
) -> Slo:
    """Apply changes; disabling resolves the SLO's open alerts, as the runner will skip it."""
    slo = get_slo(session, slo_id, for_update=True)
    before = slo_document(slo)
    was_enabled = slo.enabled
    if "params" in changes:
        slo.params = validate_params(session, slo.kind, slo.contract_id, changes.pop("params"))
    if "period" in changes:
        slo.period_seconds = period_seconds(changes.pop("period"))
    for key, value in changes.items():
        setattr(slo, key, value)
    slo.updated_at = utcnow()
    session.flush()
    if was_enabled and not slo.enabled:
        # imported here: alerts imports this module for SloEvaluation
        from monitors.slos.alerts import resolve_all

        resolve_all(
            session,
            slo,
            reason=f"SLO disabled by {actor.name}",
            at=slo.updated_at,
            settings=settings,
        )
    audit.record(
        session,
        actor=actor.name,
        action="slo.update",
        object_type="slo",
        object_id=slo.id,
        before=before,
        after=slo_document(slo),
    )
    return slo


def get_slo(session: Session, slo_id: str, *, for_update: bool = False) -> Slo:
    slo = repository.get_slo(session, slo_id, for_update=for_update)
    if slo is None:
        raise SloNotFound(f"no SLO {slo_id!r}", field="slo_id", rule="exists")
    return slo


def list_slos(session: Session) -> list[Slo]:
    return repository.list_slos(session)


def status_of(session: Session, slo_id: str) -> tuple[Slo, SloEvaluation, list[Alert]]:
    """An SLO evaluated now, with its open alerts."""
    slo = get_slo(session, slo_id)
    return slo, evaluate_slo(session, slo), repository.open_alerts_of(session, slo_id)


def slo_document(slo: Slo) -> dict[str, Any]:
    return {
        "name": slo.name,
        "kind": slo.kind,
        "contract_id": slo.contract_id,
        "objective": slo.objective,
        "params": slo.params,
        "period_seconds": slo.period_seconds,
        "time_scale": slo.time_scale,
        "min_events": slo.min_events,
        "pending_seconds": slo.pending_seconds,
        "runbook_url": slo.runbook_url,
        "enabled": slo.enabled,
    }


# --- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SloEvaluation:
    slo_id: str
    at: datetime
    period: timedelta
    good: int
    total: int
    budget_remaining: float | None
    burn_rate: float | None
    rules: list[RuleVerdict]
    events: Events

    def firing(self, severity: str) -> list[RuleVerdict]:
        return [v for v in self.rules if v.firing and v.rule.severity == severity]

    def to_json(self) -> dict[str, Any]:
        return jsonsafe(
            {
                "at": self.at,
                "period_seconds": self.period.total_seconds(),
                "good": self.good,
                "total": self.total,
                "bad": self.total - self.good,
                "sli": (self.good / self.total) if self.total else None,
                "budget_remaining": self.budget_remaining,
                "burn_rate": self.burn_rate,
                "windows": [rule_json(v) for v in self.rules],
            }
        )


def rule_json(v: RuleVerdict) -> dict[str, Any]:
    return {
        "severity": v.rule.severity,
        "long_window_seconds": v.rule.long.total_seconds(),
        "short_window_seconds": v.rule.short.total_seconds(),
        # what was counted: longer than the rule's windows when a sparse SLO widened them
        "long_counted_seconds": (v.long_span or v.rule.long).total_seconds(),
        "short_counted_seconds": (v.short_span or v.rule.short).total_seconds(),
        "budget_share": v.rule.budget_share,
        "threshold": v.threshold,
        "long_burn_rate": v.long_burn_rate,
        "short_burn_rate": v.short_burn_rate,
        "firing": v.firing,
        "reason": v.reason,
    }


def scaled_rules(slo: Slo) -> list[BurnRateRule]:
    return [r.scaled(slo.time_scale) for r in SRE_RULES]


def evaluate_slo(session: Session, slo: Slo, *, now: datetime | None = None) -> SloEvaluation:
    """Budget over the (scaled) period and burn rates over every (scaled) rule window.

    A sparse kind's rule windows are first widened to hold its newest events
    (`events.sparse_widening`); the burn-rate arithmetic is the SRE Workbook's either way.
    """
    now = now or utcnow()
    period = timedelta(seconds=slo.period_seconds) / slo.time_scale
    rules = scaled_rules(slo)
    widening = sparse_widening(slo)
    stretch = widening[1] if widening else timedelta(0)
    span = max(period, max(r.long for r in rules) + stretch)
    events = load_events(session, slo, now - span, now)
    good, total = events.counts(now - period, now)
    overall = WindowCounts(good, total)
    verdicts = []
    for rule in rules:
        long_start, short_start = _rule_starts(events, rule, now, widening)
        lg, lt = events.counts(long_start, now)
        sg, st = events.counts(short_start, now)
        verdict = evaluate_rule(
            rule,
            long=WindowCounts(lg, lt),
            short=WindowCounts(sg, st),
            objective=slo.objective,
            period=period,
            min_events=slo.min_events,
        )
        if widening:
            verdict = replace(verdict, long_span=now - long_start, short_span=now - short_start)
        verdicts.append(verdict)
    return SloEvaluation(
        slo.id,
        now,
        period,
        good,
        total,
        budget_remaining(overall, slo.objective),
        burn_rate(overall, slo.objective),
        verdicts,
        events,
    )


def _rule_starts(
    events: Events, rule: BurnRateRule, now: datetime, widening: tuple[int, timedelta] | None
) -> tuple[datetime, datetime]:
    """Where the rule's long and short windows start: `now` minus their lengths, or earlier
    for a sparse kind so each holds its newest events (the short one within the long one)."""
    long_start, short_start = now - rule.long, now - rule.short
    if widening is None:
        return long_start, short_start
    n, stretch = widening
    long_start = events.widened_start(long_start, now, n, floor=now - rule.long - stretch)
    short_floor = max(long_start, now - rule.short - stretch)
    return long_start, events.widened_start(short_start, now, n, floor=short_floor)
