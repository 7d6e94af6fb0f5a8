"""Offline ranking metrics: ROC AUC, log loss, calibration, NDCG@k per request (numpy/polars)."""

from __future__ import annotations

import numpy as np
import polars as pl


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUC with tied scores counted as half."""
    y = np.asarray(y, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = pl.Series(np.asarray(score, dtype=np.float64)).rank("average").to_numpy()
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def log_loss(y: np.ndarray, p: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Mean predicted vs observed CTR, and expected calibration error over quantile bins."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    predicted, observed = float(p.mean()), float(y.mean())
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    counts = np.bincount(which, minlength=len(edges))
    gaps = np.abs(np.bincount(which, p, len(edges)) - np.bincount(which, y, len(edges)))
    return {
        "predicted_ctr": predicted,
        "observed_ctr": observed,
        "calibration_ratio": predicted / observed if observed else float("nan"),
        "ece": float(gaps.sum() / max(counts.sum(), 1)),
    }


def _discount(col: str) -> pl.Expr:
    return 1.0 / (pl.col(col).cast(pl.Float64) + 1.0).log(2)


def ndcg_at_k(request: np.ndarray, y: np.ndarray, score: np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k over requests with at least one click (binary gains)."""
    frame = pl.DataFrame({"r": request, "y": np.asarray(y, dtype=np.float64), "s": score})
    ranked = frame.with_columns(
        pl.col("s").rank("ordinal", descending=True).over("r").alias("rank"),
        pl.col("y").rank("ordinal", descending=True).over("r").alias("ideal"),
    )
    per_request = (
        ranked.group_by("r")
        .agg(
            (pl.col("y") * _discount("rank")).filter(pl.col("rank") <= k).sum().alias("dcg"),
            (pl.col("y") * _discount("ideal")).filter(pl.col("ideal") <= k).sum().alias("idcg"),
        )
        .filter(pl.col("idcg") > 0)
        .sort("r")  # a fixed summation order: the same rows give the same bits
    )
    if per_request.height == 0:
        return float("nan")
    mean = (per_request["dcg"] / per_request["idcg"]).mean()
    return float(mean) if isinstance(mean, int | float) else float("nan")


def evaluate(y: np.ndarray, p: np.ndarray, request: np.ndarray) -> dict[str, float]:
    """Every metric of one scorer on one labelled set (`p` are probabilities)."""
    cal = calibration(y, p)
    return {
        "auc": roc_auc(y, p),
        "log_loss": log_loss(y, p),
        "ndcg@10": ndcg_at_k(request, y, p),
        **cal,
        "rows": len(y),
        "positives": int(np.asarray(y).sum()),
    }
