"""A model card per version, in Markdown: intended use, training data and contracts (from
lineage), offline metrics, the comparison with the champion and its segments, gate results,
approvals, and where the version stands."""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlalchemy.orm import Session

from checks import repository as checks_repo
from core.settings import Settings
from governance.promotions import gate_verdicts, gates
from governance.promotions import repository as repo
from governance.promotions.models import PromotionRequest
from governance.registry import repository, service
from governance.reports import card_facts

INTENDED_USE = (
    "Ranks candidate feed items for one user by the predicted probability of a click "
    "(`POST /rank`). It is meant for ordering items that already passed eligibility and "
    "safety filtering; its scores are not a measure of item quality, and it is not meant "
    "for decisions about people. It is judged offline against a popularity baseline and the "
    "synthetic feed's oracle, and online by realized AUC from delayed clicks."
)


def _num(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, int | float):
        return (
            "-" if isinstance(value, float) and not math.isfinite(value) else f"{value:.{digits}f}"
        )
    return str(value)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["_none_"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += [
        "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows
    ]
    return out


def _metrics(metrics: dict[str, Any]) -> list[str]:
    rows = []
    for scorer in ("model", "popularity", "oracle"):
        m = metrics.get(scorer)
        if isinstance(m, dict):
            rows.append(
                [
                    scorer,
                    _num(m.get("auc")),
                    _num(m.get("log_loss")),
                    _num(m.get("ndcg@10")),
                    _num(m.get("ece")),
                ]
            )
    lines = _table(["scorer", "AUC", "log loss", "NDCG@10", "ECE"], rows)
    if metrics.get("test_window"):
        lines.append("")
        lines.append(f"Test window: {' .. '.join(metrics['test_window'])}.")
    return lines


def _comparison(evaluation: dict[str, Any] | None) -> list[str]:
    if not evaluation:
        return ["_No comparison with a champion yet (the metrics gate has not run)._"]
    cand, champ = evaluation["candidate"], evaluation["champion"]
    lines = [
        f"Both models scored the same {evaluation['rows']} impressions "
        f"({' .. '.join(evaluation['window'])}).",
        "",
        *_table(
            ["metric", "this version", "champion"],
            [[m, _num(cand.get(m)), _num(champ.get(m))] for m in ("auc", "log_loss", "ndcg@10")],
        ),
    ]
    rows = [
        [
            f"{field}={s['value']}",
            str(s["rows"]),
            _num(s["candidate"].get("auc")),
            _num(s["champion"].get("auc")),
        ]
        for field, segments in evaluation.get("slices", {}).items()
        for s in segments
    ]
    lines += ["", "Segments:", "", *_table(["segment", "rows", "AUC", "champion AUC"], rows)]
    lines += [f"- note: {n}" for n in evaluation.get("notes", [])]
    return lines


def _training(session: Session, version: Any, settings: Settings) -> list[str]:
    ctx = gates.Context(version, None, settings.data_dir, settings.lineage_namespace)
    batches, upstream = gates.training_batches(session, ctx)
    ids = [uuid.UUID(b["batch_id"]) for b in batches if not b.get("problem")]
    received = {str(b.id): b.received_at for b in checks_repo.batches_by_id(session, ids)}
    summary = card_facts.summarize_batches(batches, received)
    window = (version.params or {}).get("window")
    lines = [f"Training window: {' .. '.join(window)}." if window else "", ""]
    contracts = [f"{c} {v}" for c, vs in version.contract_versions.items() for v in vs]
    lines += [f"Contract versions: {', '.join(contracts)}."]
    lines += [f"Upstream datasets: {', '.join(upstream)}.", ""]
    lines += [card_facts.describe_batches(summary), ""]
    for contract, (first, last) in sorted(summary.windows.items()):
        url = card_facts.batches_link(settings.public_url, contract, first, last)
        lines.append(f"- {contract} batches of the window: [{url}]({url})")
    lines.append(
        f"- the exact batch ids: `GET /models/{version.model_name}/versions/{version.version}` "
        "(`training_data`)"
    )
    if not summary.problems:
        return lines
    shown = summary.problems[: card_facts.MAX_PROBLEM_ROWS]
    rows = [
        [b["batch_id"], b["contract_id"], b["contract_version"], b.get("problem") or "unchecked"]
        for b in shown
    ]
    lines += ["", "Batches driftgate cannot vouch for:", ""]
    lines += _table(["batch", "contract", "version", "problem"], rows)
    if len(summary.problems) > len(shown):
        lines.append(f"… and {len(summary.problems) - len(shown)} more.")
    return lines


def _gates(req: PromotionRequest | None) -> list[str]:
    if req is None:
        return ["_No promotion request yet._"]
    lines = [
        f"Request `{req.id}` ({req.state}) by {req.requested_by} on "
        f"{req.requested_at:%Y-%m-%d %H:%M} UTC under policy v{req.policy_version}: "
        f"{req.justification}",
        "",
        *_table(
            ["gate", "status", "blocking", "summary"],
            [
                [g["name"], g["status"], _blocks(g), g["summary"]]
                for g in gate_verdicts.as_shown(req.gates, req.override)
            ],
        ),
    ]
    if req.override:
        o = req.override
        lines += ["", f"Override by {o['by']} of {', '.join(o['gates'])}: {o['reason']}"]
    return lines


def _blocks(gate: dict[str, Any]) -> str:
    if gate["overridden"]:
        return f"overridden by {gate['overridden']['by']}"
    return "yes" if gate["blocking"] else "no"


def _approvals(session: Session, req: PromotionRequest | None) -> list[str]:
    if req is None:
        return ["_None._"]
    rows = [
        [
            a.reviewer,
            a.decision,
            f"{a.decided_at:%Y-%m-%d %H:%M}",
            a.comment or "-",
            "void: " + (a.void_reason or "") if a.voided_at else "counts",
        ]
        for a in repo.approvals(session, req.id)
    ]
    return [
        f"Quorum: {req.quorum}.",
        "",
        *_table(["reviewer", "decision", "at", "comment", "status"], rows),
    ]


def model_card(session: Session, *, name: str, version: int, settings: Settings) -> str:
    """The Markdown card of one version."""
    row = service.get_version(session, name, version)
    alias = repository.get_alias(session, name)
    requests = repo.requests_of_version(session, name, version)
    latest = requests[-1] if requests else None
    status = card_facts.serving_status(
        version, alias.version if alias else None, repository.champion_changes(session, name)
    )
    sig = row.signature.get("inputs", [])
    lines = [
        f"# Model card: {name} v{version}",
        "",
        f"- Status: {status}; {len(requests)} promotion request(s)"
        + (f", latest {latest.state}" if latest else ""),
        f"- Registered {row.created_at:%Y-%m-%d %H:%M} UTC by {row.created_by}",
        f"- Artifact: `{row.artifact_sha256}` ({row.artifact_bytes} bytes)",
        f"- Inputs: {len(sig)} features ({', '.join(i['name'] for i in sig[:8])}"
        + (", …" if len(sig) > 8 else "")
        + ")",
        "",
        "## Intended use",
        "",
        INTENDED_USE + (f" {row.description}." if row.description else ""),
        "",
        "## Training data and contracts",
        "",
        *_training(session, row, settings),
        "",
        "## Offline metrics (own test split)",
        "",
        *_metrics(row.metrics),
        "",
        "## Compared with the champion, overall and by segment",
        "",
        *_comparison(latest.evaluation if latest else None),
        "",
        "## Promotion gates",
        "",
        *_gates(latest),
        "",
        "## Approvals",
        "",
        *_approvals(session, latest),
        "",
    ]
    return "\n".join(lines)
