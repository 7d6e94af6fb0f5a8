"""Candidate and champion scored on the same evaluation data, overall and per segment.

Registered metrics come from each version's own test split, so two versions trained on
different windows were judged on different rows. The gates need one yardstick: both models
score every mature impression of the candidate's test window (features recomputed for each
model with its own feature spec, from the accepted batches), and are compared on those rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from core.jsonsafe import jsonsafe
from ranker import dataset, evaluation
from ranker.metrics import evaluate
from ranker.splits import SplitPlan

SCORE_BINS = 10


@dataclass
class Comparison:
    window: tuple[datetime, datetime]
    rows: int
    positives: int
    candidate: dict[str, float]
    champion: dict[str, float]
    slices: dict[str, list[dict[str, Any]]]
    score_reference: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return jsonsafe(
            {
                "window": [self.window[0].isoformat(), self.window[1].isoformat()],
                "rows": self.rows,
                "positives": self.positives,
                "candidate": self.candidate,
                "champion": self.champion,
                "slices": self.slices,
                "score_reference": self.score_reference,
                "notes": self.notes,
            }
        )


def _window(payload: dict[str, Any]) -> tuple[datetime, datetime]:
    start, end = (datetime.fromisoformat(v) for v in payload["training"]["window"])
    return start, end


def evaluation_plan(candidate: dict[str, Any]) -> SplitPlan:
    """The candidate's test window, with labels read as of the end of its training window."""
    splits = candidate["training"]["splits"]
    test_start, test_end = (datetime.fromisoformat(v) for v in splits["test"])
    attribution = timedelta(hours=float(splits["attribution_hours"]))
    as_of = datetime.fromisoformat(splits["as_of"])
    return SplitPlan(
        train=(test_start, test_start),
        val=(test_start, test_start),
        test=(test_start, test_end),
        as_of=as_of,
        attribution=attribution,
    )


def _scored(
    data: dataset.WindowData, plan: SplitPlan, payload: dict[str, Any]
) -> tuple[pl.DataFrame, np.ndarray]:
    from ranker.training import model_from_payload, prepare  # lazy: torch

    model, spec = model_from_payload(payload)
    rows = prepare(data, plan, spec.params, prior_ctr=spec.prior_ctr).split("test")
    return rows, evaluation.model_scores(model, spec, rows)


def _metrics(y: np.ndarray, p: np.ndarray, requests: np.ndarray) -> dict[str, float]:
    m = evaluate(y, p, requests)
    return {k: m[k] for k in ("auc", "log_loss", "ndcg@10", "ece", "rows", "positives")}


def compare(
    session: Session,
    *,
    candidate: dict[str, Any],
    champion: dict[str, Any],
    slice_fields: list[str],
) -> Comparison:
    """Score both payloads on the candidate's test window; slices by each field's values."""
    plan = evaluation_plan(candidate)
    # The candidate's own training window: its features get the history they were trained
    # with (so its metrics here equal its registered ones), and the champion gets the same.
    data = dataset.load_window(session, start=_window(candidate)[0], end=plan.as_of)
    cand_rows, cand_scores = _scored(data, plan, candidate)
    champ_rows, champ_scores = _scored(data, plan, champion)
    if not cand_rows["event_id"].equals(champ_rows["event_id"]):
        # Same impressions and labels by construction; align defensively all the same.
        order = champ_rows.select("event_id").with_row_index("i")
        idx = cand_rows.select("event_id").join(order, on="event_id", how="left")["i"]
        champ_scores = champ_scores[idx.to_numpy()]
    y = cand_rows["label"].to_numpy()
    requests = cand_rows["request_id"].to_numpy()
    notes = []
    c0, c1 = _window(champion)
    if c0 < plan.test[1] and plan.test[0] < c1:
        notes.append(
            "the champion's training window overlaps the evaluation window, "
            "which favours the champion"
        )
    return Comparison(
        window=plan.test,
        rows=len(y),
        positives=int(y.sum()),
        candidate=_metrics(y, cand_scores, requests),
        champion=_metrics(y, champ_scores, requests),
        slices={
            f: _slices(cand_rows[f], y, cand_scores, champ_scores, requests) for f in slice_fields
        },
        score_reference=score_reference(cand_scores),
        notes=notes,
    )


def _slices(
    values: pl.Series,
    y: np.ndarray,
    cand: np.ndarray,
    champ: np.ndarray,
    requests: np.ndarray,
) -> list[dict[str, Any]]:
    """Metrics per segment value (a handful of values: the loop is over segments, not rows)."""
    codes = values.fill_null("<null>").cast(pl.String).to_numpy()
    out = []
    for value in np.unique(codes):
        mask = codes == value
        ys = y[mask]
        out.append(
            {
                "value": str(value),
                "rows": int(mask.sum()),
                "positives": int(ys.sum()),
                "candidate": _metrics(ys, cand[mask], requests[mask]),
                "champion": _metrics(ys, champ[mask], requests[mask]),
            }
        )
    return out


def score_reference(scores: np.ndarray, bins: int = SCORE_BINS) -> dict[str, Any]:
    """Quantile bins of the offline scores: what the bake guard compares live scores with."""
    if scores.size == 0:
        return {"edges": [], "shares": [], "count": 0}
    edges = np.unique(np.quantile(scores, np.linspace(0, 1, bins + 1))[1:-1])
    counts = np.bincount(np.searchsorted(edges, scores, side="right"), minlength=len(edges) + 1)
    return {
        "edges": edges.tolist(),
        "shares": (counts / scores.size).tolist(),
        "count": int(scores.size),
        "mean": float(scores.mean()),
    }
