"""Drift statistics over stored batch profiles: PSI, KS, chi-square, Jensen-Shannon.

Pure functions, no I/O. Numeric fields are compared through the mergeable log-bucket sketches
that `checks.profile` stores per batch, so a window of any size is evaluated by merging
sketches instead of re-reading rows; categoricals through their counts per category (exact, or
a heavy-hitters summary with an error bound: `category_cells` says how both compare). The exact
two-sample KS on raw values stays available (`ks_exact`) for deep dives.

Conventions (documented in docs/monitors.md):
- PSI bins come from the *reference* quantiles (never the current data), and empty bins are
  smoothed with `EPSILON` so one empty bin does not make the index infinite.
- Values falling in the same sketch bucket (relative width ~0.8%) count as equal, which is
  what bounds the difference from the same statistic on raw rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from checks.heavy_hitters import CategoryCounts
from checks.sketch import Sketch, bucket_value, merge, quantiles

EPSILON = 1e-4
OTHER = "__other__"
LISTED = 100  # category names a comparison lists (cells, unseen)


@dataclass(frozen=True)
class Comparison:
    """One statistic comparing a current window with the reference."""

    method: str
    statistic: float
    p_value: float | None
    reference_count: int
    current_count: int
    details: dict[str, Any]


def merge_sketches(docs: list[dict[str, Any]]) -> Sketch:
    """Merge stored sketch documents (one per batch) into the sketch of their window."""
    return merge(*(Sketch.from_json(d) for d in docs))


def quantile_edges(reference: Sketch, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles; duplicates collapse (heavy ties)."""
    qs = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    return np.unique(quantiles(reference, qs))


def binned_counts(sketch: Sketch, edges: np.ndarray) -> np.ndarray:
    """Counts per bin: bin i holds values v with edges[i-1] <= v < edges[i]."""
    idx = np.searchsorted(edges, bucket_value(sketch.keys), side="right")
    return np.bincount(idx, weights=sketch.counts, minlength=edges.size + 1)


def psi_from_counts(reference: np.ndarray, current: np.ndarray, eps: float = EPSILON) -> float:
    """Population stability index of two count vectors over the same bins."""
    ref = np.clip(reference / max(reference.sum(), 1), eps, None)
    cur = np.clip(current / max(current.sum(), 1), eps, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi(reference: Sketch, current: Sketch, bins: int = 10) -> Comparison:
    """PSI with bins from the reference's quantiles."""
    edges = quantile_edges(reference, bins)
    ref_counts, cur_counts = binned_counts(reference, edges), binned_counts(current, edges)
    return Comparison(
        "psi",
        psi_from_counts(ref_counts, cur_counts),
        None,
        reference.total,
        current.total,
        {
            "edges": edges.tolist(),
            "reference_share": (ref_counts / max(reference.total, 1)).tolist(),
            "current_share": (cur_counts / max(current.total, 1)).tolist(),
        },
    )


def ks(reference: Sketch, current: Sketch) -> Comparison:
    """Two-sample KS statistic from the sketches' CDFs, with its asymptotic p-value
    (`significance.ks_sf`: scipy's `kstwo` at small sizes, Stephens' form past them)."""
    from monitors.drift.significance import ks_sf

    n, m = reference.total, current.total
    points = np.union1d(bucket_value(reference.keys), bucket_value(current.keys))
    d = float(np.max(np.abs(_cdf(reference, points) - _cdf(current, points))))
    en = round(n * m / (n + m))
    return Comparison("ks", d, ks_sf(d, max(en, 1)), n, m, {})


def ks_exact(reference: np.ndarray, current: np.ndarray) -> Comparison:
    """The exact two-sample KS on raw values (scipy), for deep dives."""
    from scipy.stats import ks_2samp

    res = ks_2samp(reference, current)
    return Comparison(
        "ks", float(res.statistic), float(res.pvalue), reference.size, current.size, {}
    )


def _cdf(sketch: Sketch, points: np.ndarray) -> np.ndarray:
    cum = np.cumsum(sketch.counts) / sketch.total
    idx = np.searchsorted(bucket_value(sketch.keys), points, side="right")
    return np.where(idx == 0, 0.0, cum[np.maximum(idx - 1, 0)])


def category_counts(
    reference: Mapping[str, int], current: Mapping[str, int]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Align two category→count maps; categories unseen in the reference are kept."""
    labels = list(dict.fromkeys([*reference, *current]))
    ref = np.array([reference.get(k, 0) for k in labels], dtype=np.float64)
    cur = np.array([current.get(k, 0) for k in labels], dtype=np.float64)
    return labels, ref, cur


Categories = CategoryCounts | Mapping[str, int]


def _summary(counts: Categories) -> CategoryCounts:
    """A plain category→count map is taken as exact counts."""
    if isinstance(counts, CategoryCounts):
        return counts
    return CategoryCounts({k: int(v) for k, v in counts.items() if v > 0})


@dataclass(frozen=True)
class Cells:
    """Two count vectors over the same cells, after the one "other" rule every method uses."""

    labels: list[str]
    reference: np.ndarray
    current: np.ndarray
    details: dict[str, Any]


def category_cells(reference: Categories, current: Categories) -> Cells:
    """Align two summaries on the categories whose counts are known on both sides.

    A count is known when its side is exact, or when it exceeds that side's error bound (the
    most any count of an approximate summary may be undercounted by). Every other category,
    and the mass a summary attributes to none, is pooled into one `__other__` cell on both
    sides, so a truncated or approximate side never passes for exact. Unseen categories
    (counted now, absent from the reference's counts) are reported before any pooling. Both
    lists name at most `LISTED` categories, the largest first; `unseen_share` covers all.
    """
    ref_s, cur_s = _summary(reference), _summary(current)
    labels, ref, cur = category_counts(ref_s.counts, cur_s.counts)
    n, m = ref_s.total, cur_s.total
    unseen_mask = (ref == 0) & (cur > 0)
    known = (ref > ref_s.error) | ref_s.exact
    known &= (cur > cur_s.error) | cur_s.exact
    kept = [k for k, keep in zip(labels, known, strict=True) if keep]
    ref_k, cur_k = ref[known], cur[known]
    ref_other, cur_other = n - ref_k.sum(), m - cur_k.sum()
    if ref_other > 0 or cur_other > 0:
        kept.append(OTHER)
        ref_k, cur_k = np.append(ref_k, ref_other), np.append(cur_k, cur_other)
    unseen = np.flatnonzero(unseen_mask)
    details = {
        "categories": _largest(kept, ref_k + cur_k),
        "unseen": _largest([labels[i] for i in unseen], cur[unseen]),
        "unseen_share": float(cur[unseen_mask].sum() / max(m, 1)),
        "approximate": not (ref_s.exact and cur_s.exact),
        "error_bound": {"reference": ref_s.error, "current": cur_s.error},
        "pooled_categories": int((~known).sum()),
    }
    return Cells(kept, ref_k, cur_k, details)


def _largest(labels: list[str], counts: np.ndarray) -> list[str]:
    """At most `LISTED` labels, largest counts first: a 10,000-level field must not put
    10,000 names into every stored drift window (the counts say how many there are)."""
    order = np.argsort(-counts, kind="stable")[:LISTED]
    return [labels[i] for i in order]


def pool_sparse(table: np.ndarray, minimum: float = 5.0) -> np.ndarray:
    """Columns of a 2-by-k table whose smallest expected count is under `minimum`, pooled into
    one column (with the smallest others until it reaches it), as chi-square needs."""
    n = table.sum()
    table = table[:, table.sum(axis=0) > 0]
    if n == 0 or table.shape[1] < 2:
        return table
    expected_min = table.sum(axis=0) * table.sum(axis=1).min() / n
    sparse = expected_min < minimum
    if not sparse.any():
        return table
    pooled = table[:, sparse].sum(axis=1)
    rest = table[:, ~sparse]
    rest = rest[:, np.argsort(rest.sum(axis=0), kind="stable")]
    while rest.shape[1] and pooled.sum() * table.sum(axis=1).min() / n < minimum:
        pooled, rest = pooled + rest[:, 0], rest[:, 1:]
    return np.column_stack([rest, pooled])


def categorical(reference: Categories, current: Categories, method: str = "psi") -> Comparison:
    """PSI, chi-square (homogeneity, with p-value) or Jensen-Shannon distance over categories.

    Either side is a `CategoryCounts` summary or a plain map of exact counts; both go through
    `category_cells`, and chi-square also pools cells expected under 5 (`pool_sparse`).
    """
    cells = category_cells(reference, current)
    ref, cur, details = cells.reference, cells.current, cells.details
    n, m = int(ref.sum()), int(cur.sum())
    if method == "psi":
        return Comparison("psi", psi_from_counts(ref, cur), None, n, m, details)
    if method == "js":
        from scipy.spatial.distance import jensenshannon

        p, q = ref / max(n, 1), cur / max(m, 1)
        return Comparison("js", float(jensenshannon(p, q, base=2)), None, n, m, details)
    if method == "chi2":
        from scipy.stats import chi2_contingency

        table = pool_sparse(np.vstack([ref, cur]))
        details["chi2_cells"] = int(table.shape[1])
        if table.shape[1] < 2 or n == 0 or m == 0:
            return Comparison("chi2", 0.0, 1.0, n, m, details)
        res = chi2_contingency(table, correction=False)
        return Comparison("chi2", float(res.statistic), float(res.pvalue), n, m, details)
    raise ValueError(f"unknown categorical drift method {method!r}")


def adjusted_p_values(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, for a dataset verdict over many fields."""
    if not p_values:
        return []
    from scipy.stats import false_discovery_control

    return [float(p) for p in false_discovery_control(np.asarray(p_values), method="bh")]
