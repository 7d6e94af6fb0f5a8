"""The bake period's live signals for a promoted version, each `ok`, `breach` or `no_data`,
and the verdict they add up to (reads only; `guard` acts on it):

- error rate of POST /rank answered by the version (5xx share), from this process's probe;
- p99 latency of those calls;
- score shift: PSI of the scores it served (prediction log) against the scores it gave on
  the gate's offline evaluation rows;
- quality: realized AUC of its served predictions (delayed labels), or the label-free
  estimate, from monitors' quality windows, against its offline AUC.

Once the period is over the bake confirms only if every signal the policy requires has data
and none breached; otherwise it holds (never confirms on missing data).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.jsonsafe import jsonsafe
from governance.bake.serving_probe import RankStats
from governance.promotions.models import PromotionRequest
from governance.promotions.policy_document import Bake
from governance.promotions.policy_versions import policy_at
from governance.registry import repository
from monitors.quality import repository as quality_repository
from ranker import repository as ranker_repo

OK, BREACH, NO_DATA = "ok", "breach", "no_data"
MAX_LIVE_SCORES = 200_000


@dataclass
class Signal:
    name: str
    status: str
    value: float | None = None
    threshold: float | None = None
    detail: str = ""


@dataclass
class BakeReport:
    request_id: str
    model_name: str
    version: int
    verdict: str  # baking | breach | confirm | hold | superseded
    at: datetime
    bake_until: datetime | None
    signals: list[Signal] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return jsonsafe(asdict(self))

    @property
    def breaches(self) -> list[Signal]:
        return [s for s in self.signals if s.status == BREACH]


def serving_signals(
    stats: RankStats | None, req: PromotionRequest, bake: Bake
) -> tuple[Signal, Signal]:
    if stats is None:
        why = "this process does not serve POST /rank, so it saw no traffic"
        return Signal("error_rate", NO_DATA, detail=why), Signal("latency", NO_DATA, detail=why)
    assert req.promoted_at is not None
    summary = stats.summary(req.model_name, req.version, req.promoted_at)
    if summary.requests < bake.min_requests:
        why = f"{summary.requests} of {bake.min_requests} requests needed"
        return (
            Signal("error_rate", NO_DATA, summary.error_rate, bake.max_error_rate, why),
            Signal("latency", NO_DATA, summary.latency_p99_ms, bake.max_latency_p99_ms, why),
        )
    rate, p99 = summary.error_rate or 0.0, summary.latency_p99_ms or 0.0
    return (
        Signal(
            "error_rate",
            BREACH if rate > bake.max_error_rate else OK,
            rate,
            bake.max_error_rate,
            f"{summary.errors} errors in {summary.requests} requests",
        ),
        Signal(
            "latency",
            BREACH if p99 > bake.max_latency_p99_ms else OK,
            p99,
            bake.max_latency_p99_ms,
            f"p99 over {summary.requests} requests",
        ),
    )


def score_shift_signal(session: Session, req: PromotionRequest, bake: Bake) -> Signal:
    from monitors.drift.stats import psi_from_counts

    reference = (req.evaluation or {}).get("score_reference") or {}
    if not reference.get("count"):
        return Signal(
            "score_shift",
            NO_DATA,
            threshold=bake.max_score_psi,
            detail="no offline score distribution (the metrics gate did not run)",
        )
    assert req.promoted_at is not None
    served = ranker_repo.scores_served_since(
        session, req.model_name, req.version, req.promoted_at, limit=MAX_LIVE_SCORES
    )
    scores = np.asarray(served, dtype=np.float64)
    if scores.size < bake.min_predictions:
        return Signal(
            "score_shift",
            NO_DATA,
            threshold=bake.max_score_psi,
            detail=f"{scores.size} of {bake.min_predictions} served scores needed",
        )
    edges = np.asarray(reference["edges"], dtype=np.float64)
    live = np.bincount(np.searchsorted(edges, scores, side="right"), minlength=len(edges) + 1)
    psi = psi_from_counts(np.asarray(reference["shares"]) * reference["count"], live)
    status = BREACH if psi > bake.max_score_psi else OK
    return Signal(
        "score_shift",
        status,
        psi,
        bake.max_score_psi,
        f"PSI of {scores.size} served scores vs {reference['count']} offline",
    )


def quality_signal(
    session: Session, req: PromotionRequest, bake: Bake, offline: float | None
) -> Signal:
    if offline is None:
        return Signal("quality", NO_DATA, detail="no offline AUC to compare with")
    assert req.promoted_at is not None
    row = quality_repository.live_quality(session, req.model_name, req.version, req.promoted_at)
    live, kind = (
        (row.realized, "realized") if row.realized is not None else (row.estimated, "estimated")
    )
    if live is None:
        return Signal(
            "quality",
            NO_DATA,
            threshold=bake.max_auc_drop,
            detail=f"no quality window served only by v{req.version} yet",
        )
    drop = offline - float(live)
    return Signal(
        "quality",
        BREACH if drop > bake.max_auc_drop else OK,
        float(live),
        bake.max_auc_drop,
        f"{kind} AUC {float(live):.4f} vs offline {offline:.4f} (drop {drop:+.4f})",
    )


def offline_auc(session: Session, req: PromotionRequest) -> float | None:
    evaluated = ((req.evaluation or {}).get("candidate") or {}).get("auc")
    if isinstance(evaluated, float):
        return evaluated
    version = repository.get_version(session, req.model_name, req.version)
    registered = ((version.metrics if version else {}).get("model") or {}).get("auc")
    return float(registered) if isinstance(registered, int | float) else None


def evaluate(
    session: Session, req: PromotionRequest, stats: RankStats | None, now: datetime | None = None
) -> BakeReport:
    """The bake verdict for a promoted request, from its signals now (reads only)."""
    now = now or utcnow()
    bake = policy_at(session, req.policy_version).document.bake
    report = BakeReport(str(req.id), req.model_name, req.version, "baking", now, req.bake_until)
    champion = repository.get_alias(session, req.model_name)
    if champion is None or champion.version != req.version:
        report.verdict = "superseded"
        return report
    report.signals = [
        *serving_signals(stats, req, bake),
        score_shift_signal(session, req, bake),
        quality_signal(session, req, bake, offline_auc(session, req)),
    ]
    by_name = {s.name: s for s in report.signals}
    if report.breaches:
        report.verdict = "breach"
    elif req.bake_until is not None and now >= req.bake_until:
        missing = [n for n in bake.require if by_name[n].status != OK]
        report.verdict = "hold" if missing else "confirm"
    return report
