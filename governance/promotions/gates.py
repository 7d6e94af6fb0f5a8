"""Run the promotion gates of a policy against a candidate version: gather facts from the
registry, lineage, incidents, monitors and the artifact itself, and judge them with
`gate_verdicts`.

A gate that cannot gather its facts reports `not_evaluated` with the reason; none of them
passes by default.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from checks import repository as checks_repo
from checks.models import Batch
from core.clock import utcnow
from core.errors import DriftgateError
from governance.promotions import repository as promotions_repo
from governance.promotions.gate_verdicts import (
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
from governance.promotions.policy_document import GATE_NAMES, PolicyDocument
from governance.registry import repository
from governance.registry.models import ModelVersion
from incidents import intake
from incidents import repository as incidents_repo
from lineage import naming
from lineage import repository as lineage_repo
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
    batch_facts, upstream = training_batches(session, ctx)
    runners = {
        "metrics": lambda: _metrics_gate(comparison, policy),
        "training_data": lambda: judge_training_batches(
            batch_facts, policy.gates.training_data.max_quarantine_rate
        ),
        "incidents": lambda: _incidents_gate(session, ctx, policy, upstream),
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
    _record_blocked(session, ctx, results)
    return GateReport(results, evaluation)


def _record_blocked(session: Session, ctx: Context, results: list[GateResult]) -> None:
    """Each open incident that blocks this promotion gets a `promotion_blocked` entry, once
    per model version (run_gates only runs for promotion requests: opening or re-gating)."""
    for r in results:
        if r.name == "incidents" and r.blocking and r.details.get("open_incidents"):
            name, version = ctx.candidate.model_name, ctx.candidate.version
            active = promotions_repo.active_request(session, name, version)
            intake.promotion_blocked(
                session,
                incident_ids=[i["id"] for i in r.details["open_incidents"]],
                request_id=str(active.id) if active else f"{name}:v{version}",
                model_name=name,
                version=version,
                at=utcnow(),
            )


# --- metrics and slices: candidate vs champion on the same rows ----------------------------


def _comparison(session: Session, ctx: Context, policy: PolicyDocument) -> dict[str, Any] | str:
    """The comparison document, or why there is none."""
    gates = policy.gates
    if not (gates.metrics.enabled or gates.slices.enabled):
        return "metrics and slices gates are switched off"
    if ctx.champion is None:
        return "the model has no champion to compare with"
    from governance.promotions.comparison import compare

    try:
        candidate = _payload(ctx.candidate, ctx.data_dir)
        champion = _payload(ctx.champion, ctx.data_dir)
    except Exception as exc:  # an artifact that does not unpickle: a reason, never a 500
        return f"cannot evaluate: an artifact does not load: {_why(exc)}"
    try:
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


def _why(exc: BaseException) -> str:
    detail = exc.detail if isinstance(exc, DriftgateError) else str(exc)
    return f"{type(exc).__name__}: {detail}"[:500]


def load_problem(version: ModelVersion, data_dir: Path) -> str | None:
    """Why the artifact does not load the way serving loads it, or None when it does.

    Serving refuses an artifact that does not load, so one that passed every gate would leave
    the old champion serving while the registry names the new one. Any exception counts: a
    broken pickle raises whatever the unpickler raises, wrong shapes a RuntimeError.
    """
    from ranker.serving import ArtifactRef, load

    ref = ArtifactRef(
        version.model_name, version.version, version.artifact_uri, version.artifact_sha256
    )
    try:
        load(ref, data_dir)
    except Exception as exc:
        return _why(exc)
    return None


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


# --- training data, from driftgate's own batch records --------------------------------------


def training_batches(session: Session, ctx: Context) -> tuple[list[dict[str, Any]], list[str]]:
    """Each training batch as driftgate's checks recorded it, and every upstream dataset id.

    The verdict's facts come from the `batches` table (status, rows received and quarantined),
    written by the check itself in the batch's transaction; never from lineage facets, which
    outside producers can post. A batch the version names but driftgate never checked, or one
    whose contract, contract version or accepted-rows sha256 differs from what the version
    claims, counts as unchecked.
    """
    refs = ctx.candidate.training_data
    records = {str(b.id): b for b in checks_repo.batches_by_id(session, _batch_ids(refs))}
    contracts = sorted({r["contract_id"] for r in refs})
    # driftgate's own check run of each batch, for display: only runs of its own check job
    # count, and that namespace is written by driftgate alone (`lineage.service.refuse_reserved`).
    checked = lineage_repo.producing_runs(
        session,
        ctx.namespace,
        dataset_names=[naming.accepted_rows(c) for c in contracts],
        versions=list(records),
        job_names=[naming.check_job(c) for c in contracts],
    )
    runs = {batch_id: str(run) for batch_id, run in checked.items()}
    batches = [_batch_facts(ref, records.get(str(ref["batch_id"])), runs) for ref in refs]
    upstream = set(contracts)
    upstream |= {f"{ctx.namespace}:{naming.accepted_rows(c)}" for c in contracts}
    upstream |= repository.posted_datasets(
        session, {(b.contract_id, b.contract_version) for b in records.values()}
    )
    return batches, sorted(upstream)


def _batch_ids(refs: list[dict[str, Any]]) -> list[uuid.UUID]:
    ids = []
    for ref in refs:
        try:
            ids.append(uuid.UUID(str(ref["batch_id"])))
        except ValueError:
            continue  # not a batch id at all: reported as unchecked
    return ids


def _batch_facts(ref: dict[str, Any], batch: Batch | None, runs: dict[str, str]) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "batch_id": str(ref["batch_id"]),
        "contract_id": ref["contract_id"],
        "contract_version": ref["contract_version"],
        "source": "checks.batches",
        "check_run": None,
        "status": None,
        "rows_received": None,
        "rows_quarantined": None,
        "quarantine_rate": None,
    }
    if batch is None:
        facts["problem"] = "driftgate has no record of this batch"
        return facts
    claimed = (ref["contract_id"], ref["contract_version"], ref.get("accepted_sha256"))
    actual = (batch.contract_id, batch.contract_version, batch.accepted_sha256)
    if claimed[:2] != actual[:2] or claimed[2] not in (None, actual[2]):
        facts["problem"] = (
            f"the version claims {claimed[0]} {claimed[1]}, driftgate checked it against "
            f"{actual[0]} {actual[1]}"
            + ("" if claimed[2] in (None, actual[2]) else " with other accepted rows")
        )
        return facts
    received, quarantined = batch.rows_received, batch.rows_quarantined
    facts.update(
        check_run=runs.get(str(batch.id)),
        status=batch.status,
        rows_received=received,
        rows_quarantined=quarantined,
        quarantine_rate=(quarantined / received) if received else None,
    )
    return facts


def evidence(session: Session, ctx: Context) -> dict[str, Any]:
    """The discrete facts the gates judged, for the binding: the training contracts' latest
    versions and version statuses, each training batch's check record, and the open incidents
    on upstream datasets. A new contract version, a re-checked batch or an incident opened or
    resolved changes it, and so voids the approvals given on the old evidence."""
    batches, upstream = training_batches(session, ctx)
    contracts = sorted(
        {b["contract_id"] for b in batches} | set(ctx.candidate.contract_versions or {})
    )
    incidents = incidents_repo.open_incident_ids(session, upstream)
    return {
        "contracts": repository.contract_versions(session, contracts),
        "batches": [
            {k: b[k] for k in ("batch_id", "contract_version", "status", "rows_quarantined")}
            for b in batches
        ],
        "open_incidents": sorted(str(i) for i in incidents),
    }


# --- incidents, artifact, error budget -----------------------------------------------------


def _incidents_gate(
    session: Session, ctx: Context, policy: PolicyDocument, upstream: list[str]
) -> GateResult:
    rows = incidents_repo.open_incidents(
        session, upstream, severities=policy.gates.incidents.severities
    )
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
    problem = load_problem(ctx.candidate, ctx.data_dir)
    if problem is not None:
        details["error"] = problem
        return GateResult("artifact", FAILED, f"the artifact does not load: {problem}", details)
    return GateResult(
        "artifact",
        PASSED,
        f"sha256 {actual[:12]}… matches the registry and the model loads",
        details,
    )


def _error_budget_gate(session: Session, policy: PolicyDocument) -> GateResult:
    from monitors.slos import repository as monitor_repo
    from monitors.slos.service import evaluate_slo

    wanted = set(policy.gates.error_budget.slos)
    defined = [s for s in monitor_repo.list_slos(session) if not wanted or s.id in wanted]
    slos = [s for s in defined if s.enabled]
    disabled = sorted(s.id for s in defined if not s.enabled)
    missing = sorted(wanted - {s.id for s in defined})
    budgets: list[dict[str, Any]] = [
        {"slo_id": m, "budget_remaining": None, "error": "no SLO with this id"} for m in missing
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
    result = judge_error_budgets(budgets, disabled=disabled)
    if missing and result.status == PASSED:
        result.status = NOT_EVALUATED
        result.summary = f"policy names SLOs that do not exist: {', '.join(missing)}"
    elif wanted and disabled and result.status == PASSED:
        # a policy that names an SLO expects it to vouch; switched off, it vouches for nothing
        result.status = NOT_EVALUATED
        result.summary = f"policy names SLOs that are disabled: {', '.join(disabled)}"
    return result
