"""Model quality from served scores and delayed clicks: realized metrics and a label-free estimate.

Pure numpy, no I/O, no Python loop over predictions.

Realized (needs labels): ROC AUC (Mann-Whitney on average ranks, ties counted half), log loss,
calibration (mean predicted vs observed CTR, and the expected calibration error over 10
equal-width score bins), and NDCG@10 per request (relevance = click, averaged over requests
with at least one click).

Estimated without labels (in the spirit of NannyML's CBPE): if the scores are calibrated
probabilities, each prediction is a click with probability p, so the expected CTR is mean(p)
and the expected ROC curve has, at each score threshold, expected TPR = Σp / Σp_total and
FPR = Σ(1-p) / Σ(1-p)_total over the predictions above it; its area is the expected AUC. The
estimate holds only while P(click | score) stays what it was: under concept drift it is blind,
which is why realized AUC from delayed labels stays the ground truth. Served scores are rarely
calibrated probabilities (the ranker scores every item at position 0), so the estimate maps them
through the model version's calibration (`monitors.quality.calibration`) first when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import rankdata

if TYPE_CHECKING:
    from monitors.quality.calibration import Calibration

EPS = 1e-7
NDCG_K = 10
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Realized:
    labeled: int
    positives: int
    auc: float | None
    log_loss: float | None
    ctr_observed: float | None
    ctr_predicted: float | None
    calibration_error: float | None
    ndcg_at_10: float | None
    ndcg_requests: int


@dataclass(frozen=True)
class Estimated:
    predictions: int
    expected_ctr: float | None
    expected_auc: float | None
    calibrated: bool = False


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Probability a random click outscores a random non-click; None without both classes."""
    labels = labels.astype(bool)
    pos = int(labels.sum())
    neg = labels.size - pos
    if pos == 0 or neg == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def log_loss(scores: np.ndarray, labels: np.ndarray) -> float | None:
    if scores.size == 0:
        return None
    p = np.clip(scores.astype(np.float64), EPS, 1 - EPS)
    y = labels.astype(np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def calibration_error(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Expected calibration error: |mean score - click rate| per score bin, weighted by size."""
    if scores.size == 0:
        return None
    bins = np.minimum((scores * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
    predicted = np.bincount(bins, weights=scores, minlength=CALIBRATION_BINS)
    observed = np.bincount(bins, weights=labels.astype(np.float64), minlength=CALIBRATION_BINS)
    return float(np.abs(predicted - observed).sum() / scores.size)


def ndcg_at_k(
    request_codes: np.ndarray, scores: np.ndarray, labels: np.ndarray, k: int = NDCG_K
) -> tuple[float | None, int]:
    """Mean NDCG@k over requests with at least one click, and how many requests that is."""
    if scores.size == 0:
        return None, 0
    rel = labels.astype(np.float64)
    by_score = np.lexsort((-scores, request_codes))
    by_label = np.lexsort((-rel, request_codes))
    codes_sorted = request_codes[by_score]
    starts = np.r_[0, np.flatnonzero(np.diff(codes_sorted)) + 1]
    counts = np.diff(np.r_[starts, codes_sorted.size])
    rank = np.arange(codes_sorted.size) - np.repeat(starts, counts)
    gain = np.where(rank < k, 1.0 / np.log2(rank + 2.0), 0.0)
    groups = np.repeat(np.arange(starts.size), counts)
    dcg = np.bincount(groups, weights=rel[by_score] * gain, minlength=starts.size)
    idcg = np.bincount(groups, weights=rel[by_label] * gain, minlength=starts.size)
    judged = idcg > 0
    if not judged.any():
        return None, 0
    return float(np.mean(dcg[judged] / idcg[judged])), int(judged.sum())


def realized(request_codes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> Realized:
    """Every realized metric over the labeled predictions of one window."""
    n = int(scores.size)
    ndcg, requests = ndcg_at_k(request_codes, scores, labels)
    return Realized(
        labeled=n,
        positives=int(labels.sum()),
        auc=roc_auc(scores, labels),
        log_loss=log_loss(scores, labels),
        ctr_observed=float(labels.mean()) if n else None,
        ctr_predicted=float(scores.mean()) if n else None,
        calibration_error=calibration_error(scores, labels),
        ndcg_at_10=ndcg,
        ndcg_requests=requests,
    )


def expected_auc(scores: np.ndarray) -> float | None:
    """CBPE: the area under the expected ROC curve if every score is a calibrated probability."""
    p = np.clip(scores.astype(np.float64), 0.0, 1.0)
    total_pos, total_neg = p.sum(), (1 - p).sum()
    if p.size < 2 or total_pos <= 0 or total_neg <= 0:
        return None
    order = np.argsort(-p, kind="stable")
    sorted_p = p[order]
    # group tied scores so a tie moves along the diagonal, as in the realized ROC
    boundaries = np.r_[np.flatnonzero(np.diff(sorted_p)) + 1, sorted_p.size]
    tp = np.r_[0.0, np.cumsum(sorted_p)[boundaries - 1]] / total_pos
    fp = np.r_[0.0, np.cumsum(1 - sorted_p)[boundaries - 1]] / total_neg
    return float(np.trapezoid(tp, fp))


def estimated(scores: np.ndarray, calibration: Calibration | None = None) -> Estimated:
    """CBPE's expected CTR and AUC, from the scores mapped through `calibration` if given."""
    p = calibration.apply(scores) if calibration is not None else scores
    n = int(p.size)
    return Estimated(
        n, float(p.mean()) if n else None, expected_auc(p), calibrated=calibration is not None
    )
