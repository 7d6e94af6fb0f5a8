"""Score calibration for the label-free quality estimate: isotonic regression, as NannyML's CBPE.

CBPE treats every served score as the probability of a click. The ranker's scores are not:
it scores each item at position 0 while users see it at its ranked position, and its
training window is not the traffic it serves. So the estimate first maps scores to
P(click | score) with a monotone step function fitted on labelled predictions of a reference
window (PAVA from `scipy.optimize.isotonic_regression`, already a pinned dependency;
scikit-learn's `IsotonicRegression` is the reference it is tested against and costs a second
of import for the same algorithm). A monotone map keeps the model's ranking, so it changes the
expected CTR and the expected ROC curve's probabilities, never which item ranks higher.

Pure numpy/scipy, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import isotonic_regression

from monitors.quality import metrics

HELDOUT_SEED = 20261207


@dataclass(frozen=True)
class Calibration:
    """A non-decreasing piecewise-linear map from raw score to click probability."""

    scores: np.ndarray  # increasing knots (raw scores)
    probabilities: np.ndarray  # non-decreasing calibrated value at each knot

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities; scores outside the knots take the nearest end's value."""
        return np.interp(scores.astype(np.float64), self.scores, self.probabilities)

    def to_json(self) -> dict[str, list[float]]:
        return {"scores": self.scores.tolist(), "probabilities": self.probabilities.tolist()}

    @classmethod
    def from_lists(cls, scores: list[float], probabilities: list[float]) -> Calibration:
        return cls(np.asarray(scores, np.float64), np.asarray(probabilities, np.float64))


def fit_isotonic(scores: np.ndarray, labels: np.ndarray) -> Calibration:
    """Isotonic regression of labels on scores, kept as the knots where the fit bends.

    Equal scores are pooled first (mean label, weighted by count), then PAVA; of each flat
    run only its two ends are kept, which is how scikit-learn's `IsotonicRegression` stores
    its thresholds and why `apply` equals its `predict` (linear between knots, clipped).
    """
    if scores.size == 0:
        raise ValueError("isotonic calibration needs at least one labelled prediction")
    x = scores.astype(np.float64)
    unique, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=labels.astype(np.float64)) / counts
    fitted = isotonic_regression(means, weights=counts, increasing=True).x
    keep = np.ones(fitted.size, dtype=bool)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return Calibration(unique[keep], fitted[keep])


def brier(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((probabilities - labels.astype(np.float64)) ** 2))


def fit_quality(scores: np.ndarray, labels: np.ndarray, calibration: Calibration) -> dict[str, Any]:
    """How well the calibration fits: raw scores against calibrated ones, in and out of sample.

    In-sample figures flatter isotonic regression (it can follow noise), so the held-out ones
    fit the map on a random half and score the other half (and vice versa): that is the error
    the estimate should expect on fresh traffic from the same distribution.
    """
    labels = labels.astype(bool)
    calibrated = calibration.apply(scores)
    held = heldout_probabilities(scores, labels)
    raw = np.clip(scores.astype(np.float64), 0.0, 1.0)
    return {
        "knots": int(calibration.scores.size),
        "ctr_observed": float(labels.mean()),
        "ctr_raw": float(raw.mean()),
        "brier_raw": brier(raw, labels),
        "brier_calibrated": brier(calibrated, labels),
        "brier_heldout": brier(held, labels),
        "log_loss_raw": metrics.log_loss(raw, labels),
        "log_loss_heldout": metrics.log_loss(held, labels),
        "ece_raw": metrics.calibration_error(raw, labels),
        "ece_calibrated": metrics.calibration_error(calibrated, labels),
        "ece_heldout": metrics.calibration_error(held, labels),
    }


def heldout_probabilities(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Two-fold cross-fitted calibrated probabilities (each half mapped by the other's fit)."""
    fold = np.random.default_rng(HELDOUT_SEED).random(scores.size) < 0.5
    out = np.empty(scores.size, dtype=np.float64)
    for part in (fold, ~fold):
        other = ~part
        if part.any() and other.any():
            out[part] = fit_isotonic(scores[other], labels[other]).apply(scores[part])
        else:
            out[part] = labels[part].mean() if part.any() else 0.0
    return out
