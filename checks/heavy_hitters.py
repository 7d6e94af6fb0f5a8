"""Category counts: exact up to a capacity, a mergeable heavy-hitters summary above it.

Categorical drift compares counts merged over batches, rollups and references. A per-batch
top-k loses mid-rank categories batch by batch (their rows leak into "other"), so a merged
reference undercounts them and clean batches look drifted. Here a field keeps one counter per
category while it has at most `capacity` of them, and those counts merge by addition, exactly.
Past the capacity the counters become a Misra-Gries summary, merged as in Agarwal et al.,
"Mergeable Summaries" (PODS 2012): add the counters, subtract the (k+1)-th largest from all of
them and drop those left at zero or below. The amount subtracted is kept as `error`, so every
category's true count lies in [counts.get(c, 0), counts.get(c, 0) + error] and
error <= other / (k + 1), where `other` is the mass no listed counter holds. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

LEGACY_OTHER = "__other__"  # how window documents before exact counts spelled the tail


@dataclass(frozen=True)
class CategoryCounts:
    """Counts per category with the bound on how much any of them may be undercounted.

    `counts` are lower bounds (each > 0); `other` is the mass not attributed to a listed
    category; `error` bounds every category's undercount, listed or not (0: exact).
    `capacity` is the number of counters kept, None for a legacy top-k of unknown size.
    """

    counts: Mapping[str, int] = field(default_factory=dict)
    other: int = 0
    error: int = 0
    capacity: int | None = None

    @property
    def total(self) -> int:
        """Every value counted, listed or not."""
        return int(sum(self.counts.values())) + self.other

    @property
    def exact(self) -> bool:
        return self.error == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "other": self.other,
            "error": self.error,
            "exact": self.exact,
            "capacity": self.capacity,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CategoryCounts:
        """A stored window document; a legacy flat map (category → count, the tail summed
        under `__other__`) gets the only bound it still supports: its whole tail."""
        if "counts" in doc and isinstance(doc["counts"], Mapping):
            return cls(
                dict(doc["counts"]),  # written by `to_json`: str keys, int counts already
                int(doc.get("other", 0)),
                int(doc.get("error", 0)),
                _capacity(doc.get("capacity")),
            )
        counts = {str(k): int(v) for k, v in doc.items() if k != LEGACY_OTHER and int(v) > 0}
        other = int(doc.get(LEGACY_OTHER, 0))
        return cls(counts, other, other, None)


def _capacity(value: Any) -> int | None:
    return int(value) if value is not None else None


def from_exact(counts: Mapping[str, int], capacity: int) -> CategoryCounts:
    """Exact counts per category (zero counts ignored), reduced only past `capacity`."""
    present = {str(k): int(v) for k, v in counts.items() if v > 0}
    return _reduce(present, 0, 0, capacity)


def merge(parts: Iterable[CategoryCounts], capacity: int | None = None) -> CategoryCounts:
    """The summary of the union of the parts' rows; exact only if every part is and the
    categories together fit the capacity (by default the largest capacity among the parts)."""
    items = list(parts)
    if capacity is None:
        capacity = max((p.capacity for p in items if p.capacity is not None), default=None)
    if len(items) == 1 and (capacity is None or len(items[0].counts) <= capacity):
        p = items[0]
        return CategoryCounts(dict(p.counts), p.other, p.error, capacity)
    items.sort(key=lambda p: len(p.counts), reverse=True)
    summed = dict(items[0].counts) if items else {}
    get = summed.get
    for p in items[1:]:
        for k, v in p.counts.items():
            summed[k] = get(k, 0) + v
    other = sum(p.other for p in items)
    error = sum(p.error for p in items)
    if capacity is None:  # legacy parts only: their few counters need no reduction
        return CategoryCounts(summed, other, error, None)
    return _reduce(summed, other, error, capacity)


def _reduce(counts: dict[str, int], other: int, error: int, capacity: int) -> CategoryCounts:
    """Misra-Gries: keep at most `capacity` counters by subtracting the (k+1)-th largest."""
    if capacity < 1:
        raise ValueError("capacity must be at least 1")
    if len(counts) <= capacity:
        return CategoryCounts(counts, other, error, capacity)
    cut = sorted(counts.values(), reverse=True)[capacity]
    kept = {k: v - cut for k, v in counts.items() if v > cut}
    dropped = sum(counts.values()) - sum(kept.values())
    return CategoryCounts(kept, other + dropped, error + cut, capacity)


def to_profile(summary: CategoryCounts, distinct: int) -> dict[str, Any]:
    """The batch profile document: listed categories by count (then name), and the bound."""
    ordered = sorted(summary.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "distinct": distinct,
        "values": [k for k, _ in ordered],
        "counts": [v for _, v in ordered],
        "other": summary.other,
        "exact": summary.exact,
        "error": summary.error,
        "capacity": summary.capacity,
    }


def from_profile(top: Mapping[str, Any]) -> CategoryCounts:
    """A batch profile's `top` document. A legacy top-k (no `error`) lists exact counts in
    descending order, so nothing left out outnumbers its last count, nor its whole tail."""
    counts = {str(v): int(n) for v, n in zip(top["values"], top["counts"], strict=True)}
    other = int(top.get("other", 0))
    if "error" in top:
        return CategoryCounts(counts, other, int(top["error"]), _capacity(top.get("capacity")))
    error = min(min(counts.values(), default=0), other) if other else 0
    if other and not counts:
        error = other
    return CategoryCounts(counts, other, error, None)
