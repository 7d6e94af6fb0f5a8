"""Window profiles: the stored per-batch column profiles of a window, merged per field.

Pure, no I/O. A numeric field merges its log-bucket sketches, a categorical one its counts per
category (exact while they fit the capacity, else a heavy-hitters summary with its error bound:
`checks.heavy_hitters`), so a window of any size is summarized without re-reading rows.
References are stored in the same shape (`to_json` / `from_json`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from checks import heavy_hitters
from checks.heavy_hitters import CategoryCounts
from checks.sketch import SUB_BITS, Sketch, merge

NUMERIC = ("integer", "float")
CATEGORICAL = ("category", "boolean")


@dataclass(frozen=True)
class FieldProfile:
    """One field over a window: rows seen, nulls, and its distribution summary."""

    type: str
    count: int
    nulls: int
    sketch: Sketch | None = None
    categories: CategoryCounts | None = None

    @property
    def values(self) -> int:
        """Non-null values the distribution summary counts."""
        if self.sketch is not None:
            return self.sketch.total
        if self.categories is not None:
            return self.categories.total
        return 0

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": self.type, "count": self.count, "nulls": self.nulls}
        if self.sketch is not None:
            doc["sketch"] = self.sketch.to_json()
        if self.categories is not None:
            doc["categories"] = self.categories.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FieldProfile:
        sketch, categories = doc.get("sketch"), doc.get("categories")
        return cls(
            type=str(doc["type"]),
            count=int(doc.get("count", 0)),
            nulls=int(doc.get("nulls", 0)),
            sketch=Sketch.from_json(dict(sketch)) if sketch else None,
            categories=CategoryCounts.from_json(categories) if categories is not None else None,
        )


def sketch_from_text(keys: str, counts: str, sub_bits: int | None) -> Sketch:
    """A sketch from its stored JSON arrays as text (`[k1,k2,...]`), parsed by numpy."""
    if sub_bits != SUB_BITS:
        raise ValueError("sketch was built with another resolution")
    return Sketch(_int_array(keys), _int_array(counts))


def _int_array(text: str) -> np.ndarray:
    body = text.strip()[1:-1]
    if not body.strip():
        return np.empty(0, dtype=np.int64)
    return np.fromstring(body, dtype=np.int64, sep=",")


def is_monitorable(field_type: str) -> bool:
    return field_type in NUMERIC or field_type in CATEGORICAL


def merge_batch_profiles(profiles: Iterable[Mapping[str, Any]]) -> FieldProfile | None:
    """Merge one field's stored batch profiles (`checks.profile` documents)."""
    docs = list(profiles)
    if not docs:
        return None
    field_type = str(docs[0]["type"])
    count = sum(int(d.get("count", 0)) for d in docs)
    nulls = sum(int(d.get("nulls", 0)) + int(d.get("nans", 0) or 0) for d in docs)
    if field_type in NUMERIC:
        sketches = [_sketch(d["sketch"]) for d in docs if d.get("sketch") is not None]
        return FieldProfile(field_type, count, nulls, sketch=merge_sketches(sketches))
    if field_type in CATEGORICAL:
        parts = [heavy_hitters.from_profile(d["top"]) for d in docs if d.get("top")]
        return FieldProfile(field_type, count, nulls, categories=heavy_hitters.merge(parts))
    return FieldProfile(field_type, count, nulls)


DENSE_SPAN = 1 << 22


def merge_sketches(sketches: list[Sketch]) -> Sketch:
    """Add counts of equal keys. Keys of one field usually span a few thousand buckets, so a
    `bincount` over the span beats sorting; wide spans (signs mixed) fall back to `merge`."""
    if len(sketches) == 1:
        return sketches[0]
    keys = np.concatenate([s.keys for s in sketches]) if sketches else np.empty(0, np.int64)
    if keys.size == 0:
        return Sketch(keys, keys.copy())
    lo, hi = int(keys.min()), int(keys.max())
    if lo < 0 or hi - lo >= DENSE_SPAN:
        return merge(*sketches)
    counts = np.concatenate([s.counts for s in sketches])
    summed = np.bincount(keys - lo, weights=counts)
    nz = np.flatnonzero(summed)
    # non-negative keys are positive floats: key order is value order already
    return Sketch(nz.astype(np.int64) + lo, np.rint(summed[nz]).astype(np.int64))


def _sketch(doc: Any) -> Sketch:
    return doc if isinstance(doc, Sketch) else Sketch.from_json(doc)


def merge_window(
    rows: Iterable[tuple[str, Mapping[str, Any]]], fields: Iterable[str] | None = None
) -> dict[str, FieldProfile]:
    """(field, stored profile) pairs of any number of batches → one profile per field."""
    wanted = set(fields) if fields is not None else None
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for name, doc in rows:
        if wanted is None or name in wanted:
            grouped.setdefault(name, []).append(doc)
    out: dict[str, FieldProfile] = {}
    for name, docs in grouped.items():
        merged = merge_batch_profiles(docs)
        if merged is not None:
            out[name] = merged
    return out


def merge_field_profiles(profiles: Iterable[FieldProfile]) -> FieldProfile | None:
    """Merge already merged profiles (e.g. hourly windows into a day)."""
    items = list(profiles)
    if not items:
        return None
    first = items[0]
    sketches = [p.sketch for p in items if p.sketch is not None]
    cats = [p.categories for p in items if p.categories is not None]
    return FieldProfile(
        first.type,
        sum(p.count for p in items),
        sum(p.nulls for p in items),
        sketch=merge_sketches(sketches) if sketches else None,
        categories=heavy_hitters.merge(cats) if cats else None,
    )


def profiles_to_json(profiles: Mapping[str, FieldProfile]) -> dict[str, Any]:
    return {name: p.to_json() for name, p in sorted(profiles.items())}


def profiles_from_json(doc: Mapping[str, Any]) -> dict[str, FieldProfile]:
    return {name: FieldProfile.from_json(p) for name, p in doc.items()}


def fingerprint(doc: Mapping[str, Any]) -> str:
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()
