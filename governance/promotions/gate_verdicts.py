"""Gate verdicts from gathered facts. Pure: no I/O, so every rule is unit-tested directly.

A gate is `passed`, `failed`, `not_evaluated` (it could not be judged, and says why: never a
silent pass) or `disabled` (the policy switched it off, shown all the same). A failed gate
blocks approval; a `not_evaluated` one blocks only when the policy says `on_not_evaluated:
block`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from governance.promotions.policy_document import LOWER_IS_BETTER, PolicyDocument

PASSED, FAILED, NOT_EVALUATED, DISABLED = "passed", "failed", "not_evaluated", "disabled"


@dataclass
class GateResult:
    name: str
    status: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    blocking: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def finalize(result: GateResult, policy: PolicyDocument) -> GateResult:
    """Mark whether this result blocks approval under the policy."""
    gate = policy.gate(result.name)
    result.blocking = result.status == FAILED or (
        result.status == NOT_EVALUATED and gate.on_not_evaluated == "block"
    )
    return result


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def worse_by(metric: str, candidate: float, champion: float) -> float:
    """How much worse the candidate is (positive = worse), whatever the metric's direction."""
    return candidate - champion if metric in LOWER_IS_BETTER else champion - candidate


def judge_metrics(comparison: dict[str, Any], margins: dict[str, float]) -> GateResult:
    """Every metric within its margin of the champion's on the same rows."""
    checks, failed, missing = [], [], []
    for metric, margin in margins.items():
        cand, champ = comparison["candidate"].get(metric), comparison["champion"].get(metric)
        if not (_finite(cand) and _finite(champ)):
            missing.append(metric)
            continue
        loss = worse_by(metric, cand, champ)
        ok = loss <= margin
        checks.append(
            {
                "metric": metric,
                "candidate": cand,
                "champion": champ,
                "worse_by": loss,
                "margin": margin,
                "passed": ok,
            }
        )
        if not ok:
            failed.append(metric)
    details = {
        "checks": checks,
        "window": comparison["window"],
        "rows": comparison["rows"],
        "notes": comparison.get("notes", []),
    }
    if failed:
        text = ", ".join(
            f"{c['metric']} {c['candidate']:.4f} vs {c['champion']:.4f}"
            for c in checks
            if not c["passed"]
        )
        return GateResult(
            "metrics", FAILED, f"worse than the champion beyond margin: {text}", details
        )
    if missing:
        return GateResult(
            "metrics", NOT_EVALUATED, f"no finite value for {', '.join(missing)}", details
        )
    return GateResult(
        "metrics",
        PASSED,
        f"within margins of the champion on {comparison['rows']} evaluation rows",
        details,
    )


def judge_slices(
    comparison: dict[str, Any],
    *,
    metrics: list[str],
    margin: float,
    min_rows: int,
    min_positives: int,
) -> GateResult:
    """No segment worse than the champion's same segment by more than the margin."""
    judged, failed, skipped = 0, [], []
    for field_name, segments in comparison["slices"].items():
        for seg in segments:
            label = f"{field_name}={seg['value']}"
            if seg["rows"] < min_rows or seg["positives"] < min_positives:
                skipped.append(label)
                continue
            for metric in metrics:
                cand, champ = seg["candidate"].get(metric), seg["champion"].get(metric)
                if not (_finite(cand) and _finite(champ)):
                    skipped.append(f"{label} ({metric})")
                    continue
                judged += 1
                loss = worse_by(metric, cand, champ)
                if loss > margin:
                    failed.append(
                        {
                            "segment": label,
                            "metric": metric,
                            "candidate": cand,
                            "champion": champ,
                            "worse_by": loss,
                        }
                    )
    details = {
        "failed": failed,
        "skipped": skipped,
        "judged": judged,
        "margin": margin,
        "slices": comparison["slices"],
    }
    if failed:
        names = ", ".join(f"{f['segment']} {f['metric']} -{f['worse_by']:.4f}" for f in failed)
        return GateResult("slices", FAILED, f"segments worse than the champion: {names}", details)
    if judged == 0:
        return GateResult(
            "slices", NOT_EVALUATED, "no segment has enough rows and clicks to judge", details
        )
    return GateResult(
        "slices", PASSED, f"{judged} segment checks within {margin} of the champion", details
    )


def judge_training_batches(batches: list[dict[str, Any]], max_quarantine_rate: float) -> GateResult:
    """Every training batch was checked by driftgate, not rejected, and quarantined little."""
    missing = [b["batch_id"] for b in batches if b.get("status") is None]
    rejected = [b["batch_id"] for b in batches if b.get("status") == "rejected"]
    too_dirty = [
        b["batch_id"]
        for b in batches
        if b.get("quarantine_rate") is not None and b["quarantine_rate"] > max_quarantine_rate
    ]
    details = {
        "batches": batches,
        "max_quarantine_rate": max_quarantine_rate,
        "unchecked": missing,
        "rejected": rejected,
        "over_quarantine_rate": too_dirty,
    }
    problems = []
    if missing:
        problems.append(f"{len(missing)} batch(es) have no matching driftgate check")
    if rejected:
        problems.append(f"{len(rejected)} batch(es) were rejected")
    if too_dirty:
        problems.append(
            f"{len(too_dirty)} batch(es) quarantined more than {max_quarantine_rate:.1%}"
        )
    if problems:
        return GateResult("training_data", FAILED, "; ".join(problems), details)
    if not batches:
        return GateResult("training_data", NOT_EVALUATED, "the version names no batches", details)
    return GateResult(
        "training_data",
        PASSED,
        f"all {len(batches)} training batches passed their contract checks",
        details,
    )


def judge_incidents(open_incidents: list[dict[str, Any]], upstream: list[str]) -> GateResult:
    details = {"upstream_datasets": upstream, "open_incidents": open_incidents}
    if open_incidents:
        titles = "; ".join(i["title"] for i in open_incidents[:3])
        return GateResult(
            "incidents",
            FAILED,
            f"{len(open_incidents)} open incident(s) on upstream datasets: {titles}",
            details,
        )
    if not upstream:
        return GateResult("incidents", NOT_EVALUATED, "no upstream datasets are known", details)
    return GateResult(
        "incidents", PASSED, f"no open incident on {len(upstream)} upstream datasets", details
    )


def judge_error_budgets(
    budgets: list[dict[str, Any]], *, disabled: list[str] | None = None
) -> GateResult:
    """Freeze while any SLO's budget is spent; an SLO without events cannot vouch for anything.

    `disabled` names the SLOs that exist but are switched off, so "none enabled" is not
    reported as "none defined".
    """
    disabled = disabled or []
    exhausted = [
        b for b in budgets if b.get("budget_remaining") is not None and b["budget_remaining"] <= 0
    ]
    judged = [b for b in budgets if b.get("budget_remaining") is not None]
    details: dict[str, Any] = {"slos": budgets, "disabled_slos": disabled}
    if exhausted:
        ids = ", ".join(b["slo_id"] for b in exhausted)
        return GateResult("error_budget", FAILED, f"error budget exhausted: {ids}", details)
    if not budgets and disabled:
        summary = f"{len(disabled)} SLO(s) defined, none enabled: {', '.join(disabled)}"
        return GateResult("error_budget", NOT_EVALUATED, summary, details)
    if not budgets:
        return GateResult("error_budget", NOT_EVALUATED, "no SLOs are defined", details)
    if not judged:
        return GateResult(
            "error_budget", NOT_EVALUATED, "no SLO has events in its period yet", details
        )
    return GateResult(
        "error_budget", PASSED, f"{len(judged)} SLO(s) have error budget left", details
    )


def as_shown(gates: list[dict[str, Any]], override: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Gates as a reader sees them: one an override in force names no longer blocks.

    The stored verdicts keep `blocking` (the override is checked against them); only what is
    shown changes, with who lifted the gate and why. A pending (unconfirmed) override lifts
    nothing.
    """
    in_force = bool(override) and bool((override or {}).get("confirmed", True))
    named = set((override or {}).get("gates", [])) if in_force else set()
    shown = []
    for gate in gates:
        lifted = bool(gate.get("blocking")) and gate["name"] in named
        shown.append(
            {
                **gate,
                "blocking": bool(gate.get("blocking")) and not lifted,
                "overridden": _override_note(override) if lifted else None,
            }
        )
    return shown


def _override_note(override: dict[str, Any] | None) -> dict[str, Any]:
    o = override or {}
    return {
        "by": o.get("by"),
        "at": o.get("at"),
        "reason": o.get("reason"),
        "confirmed_by": o.get("confirmed_by"),
    }


def blocking(results: list[GateResult]) -> list[str]:
    return [r.name for r in results if r.blocking]
