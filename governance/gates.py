"""Run the promotion gates of a policy against a candidate version: gather facts from the
registry, lineage, incidents, monitors and the artifact itself, and judge them with
`gate_rules`.

A gate that cannot gather its facts reports `not_evaluated` with the reason; none of them
passes by default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import String, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import DriftgateError
from governance.gate_rules import (
    DISABLED,
    FAILED,
    NOT_EVALUATED,
    PASSED,
    GateResult,
    finalize,
    judge_error_budgets,
    judge_incidents,
    judge_metrics,
    judge_slices,
    judge_training_batches,
)
from governance.models import ModelVersion
from governance.policy import GATE_NAMES, PolicyDocument
from incidents.models import Incident
from lineage import naming
from ranker import artifact

log = logging.getLogger("driftgate.governance.gates")


@dataclass
class GateReport:
    results: list[GateResult]
    evaluation: dict[str, Any] | None

    @property
    def blocking(self) -> list[str]:
        return [r.name for r in self.results if r.blocking]

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.results]


@dataclass
class Context:
    """What the gates look at: the candidate, the champion (if any), where artifacts live."""

    candidate: ModelVersion
    champion: ModelVersion | None
    data_dir: Path
    namespace: str


def run_gates(session: Session, ctx: Context, policy: PolicyDocument) -> GateReport:
    """Every gate of the policy, in a fixed order; the expensive comparison runs once."""
    comparison = _comparison(session, ctx, policy)
    lineage_facts = training_batches(session, ctx)
    runners = {
        "metrics": lambda: _metrics_gate(comparison, policy),
        "training_data": lambda: judge_training_batches(
            lineage_facts[0], policy.gates.training_data.max_quarantine_rate
        ),
        "incidents": lambda: _incidents_gate(session, ctx, policy, lineage_facts[1]),
        "slices": lambda: _slices_gate(comparison, policy),
        "artifact": lambda: _artifact_gate(ctx),
        "error_budget": lambda: _error_budget_gate(session, policy),
    }
    results = []
    for name in GATE_NAMES:
        if not policy.gate(name).enabled:
            results.append(GateResult(name, DISABLED, "switched off by the policy"))
            continue
        results.append(finalize(runners[name](), policy))
    evaluation = comparison if isinstance(comparison, dict) else None
    return GateReport(results, evaluation)


# --- metrics and slices: candidate vs champion on the same rows ----------------------------


def _comparison(session: Session, ctx: Context, policy: PolicyDocument) -> dict[str, Any] | str:
    """The comparison document, or why there is none."""
    gates = policy.gates
    if not (gates.metrics.enabled or gates.slices.enabled):
        return "metrics and slices gates are switched off"
    if ctx.champion is None:
        return "the model has no champion to compare with"
    from governance.comparison import compare

    try:
        candidate = _payload(ctx.candidate, ctx.data_dir)
        champion = _payload(ctx.champion, ctx.data_dir)
        return compare(
            session,
            candidate=candidate,
            champion=champion,
            slice_fields=list(gates.slices.by),
        ).to_json()
    except DriftgateError as exc:
        return f"cannot evaluate: {exc.detail}"
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        # An artifact that is not a ranker artifact of this format cannot be scored.
        log.warning(
            "comparison failed for %s v%s: %s", ctx.candidate.model_name, ctx.candidate.version, exc
        )
        return f"cannot evaluate: {type(exc).__name__}: {exc}"[:500]


def _payload(version: ModelVersion, data_dir: Path) -> dict[str, Any]:
    return artifact.read(artifact.path_of(version.artifact_uri, data_dir), version.artifact_sha256)


def _metrics_gate(comparison: dict[str, Any] | str, policy: PolicyDocument) -> GateResult:
    if isinstance(comparison, str):
        return GateResult("metrics", NOT_EVALUATED, comparison)
    return judge_metrics(comparison, {str(k): v for k, v in policy.gates.metrics.margins.items()})


def _slices_gate(comparison: dict[str, Any] | str, policy: PolicyDocument) -> GateResult:
    if isinstance(comparison, str):
        return GateResult("slices", NOT_EVALUATED, comparison)
    g = policy.gates.slices
    return judge_slices(
        comparison,
        metrics=list(g.metrics),
        margin=g.margin,
        min_rows=g.min_rows,
        min_positives=g.min_positives,
    )


# --- training data, through lineage --------------------------------------------------------

_CHECK_RUNS = text(
    """
SELECT v.version AS batch_id, d.name AS dataset, r.id AS run_id, r.run_uuid, r.state,
       f.facet AS batch_check
FROM lineage_datasets d
JOIN lineage_dataset_versions v ON v.dataset_id = d.id
JOIN lineage_runs r ON r.run_uuid = v.producer_run_uuid
LEFT JOIN LATERAL (
    SELECT facet FROM lineage_facets
    WHERE owner_kind = 'run' AND owner_id = r.id AND name = 'batchCheck'
    ORDER BY last_seen DESC LIMIT 1
) f ON true
WHERE d.namespace = :ns AND d.name = ANY(:names) AND v.version = ANY(:ids)
"""
)
_RUN_INPUTS = text(
    """
SELECT DISTINCT d.namespace, d.name
FROM lineage_run_io io JOIN lineage_datasets d ON d.id = io.dataset_id
WHERE io.run_id = ANY(:runs) AND io.direction = 'in'
"""
)


def training_batches(session: Session, ctx: Context) -> tuple[list[dict[str, Any]], list[str]]:
    """Each training batch's check run (from lineage), and every upstream dataset id."""
    refs = ctx.candidate.training_data
    contracts = sorted({r["contract_id"] for r in refs})
    rows = session.execute(
        _CHECK_RUNS,
        {
            "ns": ctx.namespace,
            "names": [naming.accepted_rows(c) for c in contracts],
            "ids": [str(r["batch_id"]) for r in refs],
        },
    ).all()
    found = {(r.dataset, r.batch_id): r for r in rows}
    batches = []
    for ref in refs:
        row = found.get((naming.accepted_rows(ref["contract_id"]), str(ref["batch_id"])))
        check = (row.batch_check if row else None) or {}
        received, quarantined = check.get("rowsReceived"), check.get("rowsQuarantined")
        batches.append(
            {
                "batch_id": str(ref["batch_id"]),
                "contract_id": ref["contract_id"],
                "contract_version": ref["contract_version"],
                "check_run": str(row.run_uuid) if row else None,
                "status": check.get("status"),
                "rows_received": received,
                "rows_quarantined": quarantined,
                "quarantine_rate": (quarantined / received) if received else None,
            }
        )
    inputs = session.execute(_RUN_INPUTS, {"runs": [r.run_id for r in rows]}).all()
    upstream = set(contracts)
    upstream |= {f"{ctx.namespace}:{naming.accepted_rows(c)}" for c in contracts}
    upstream |= {f"{ns}:{name}" for ns, name in inputs}
    return batches, sorted(upstream)


# --- incidents, artifact, error budget -----------------------------------------------------


def _incidents_gate(
    session: Session, ctx: Context, policy: PolicyDocument, upstream: list[str]
) -> GateResult:
    rows = session.scalars(
        select(Incident).where(
            Incident.status == "open",
            Incident.severity.in_(policy.gates.incidents.severities),
            Incident.datasets.has_any(postgresql.array(upstream, type_=String)),
        )
    ).all()
    found = [
        {
            "id": str(i.id),
            "title": i.title,
            "severity": i.severity,
            "datasets": i.datasets,
            "opened_at": i.opened_at.isoformat(),
        }
        for i in rows
    ]
    return judge_incidents(found, upstream)


def _artifact_gate(ctx: Context) -> GateResult:
    registered = ctx.candidate.artifact_sha256
    details: dict[str, Any] = {"registered_sha256": registered, "uri": ctx.candidate.artifact_uri}
    try:
        path = artifact.path_of(ctx.candidate.artifact_uri, ctx.data_dir)
        actual, size = artifact.sha256_file(path)
    except (OSError, DriftgateError) as exc:
        details["error"] = str(exc)
        return GateResult("artifact", FAILED, "the artifact cannot be read", details)
    details.update(actual_sha256=actual, bytes=size)
    if actual != registered:
        return GateResult(
            "artifact",
            FAILED,
            "the artifact's bytes do not hash to the registered sha256",
            details,
        )
    return GateResult("artifact", PASSED, f"sha256 {actual[:12]}… matches the registry", details)


def _error_budget_gate(session: Session, policy: PolicyDocument) -> GateResult:
    from monitors import repository as monitor_repo
    from monitors.slos import evaluate_slo

    wanted = set(policy.gates.error_budget.slos)
    slos = [
        s
        for s in monitor_repo.list_slos(session, enabled_only=True)
        if not wanted or s.id in wanted
    ]
    missing = sorted(wanted - {s.id for s in slos})
    budgets: list[dict[str, Any]] = [
        {"slo_id": m, "budget_remaining": None, "error": "no enabled SLO with this id"}
        for m in missing
    ]
    now = utcnow()
    for slo in slos:
        try:
            with session.begin_nested():
                ev = evaluate_slo(session, slo, now=now)
            budgets.append(
                {
                    "slo_id": slo.id,
                    "name": slo.name,
                    "objective": slo.objective,
                    "budget_remaining": ev.budget_remaining,
                    "good": ev.good,
                    "total": ev.total,
                }
            )
        except Exception as exc:  # an SLO that cannot be evaluated vouches for nothing
            budgets.append({"slo_id": slo.id, "budget_remaining": None, "error": str(exc)[:300]})
    result = judge_error_budgets(budgets)
    if missing and result.status == PASSED:
        result.status = NOT_EVALUATED
        result.summary = f"policy names SLOs that do not exist: {', '.join(missing)}"
    return result
