"""What a window is compared with: a reference's decoded profiles, or with seasonality the
merged slices of the hours the window's batches arrived in.

References are immutable rows, so their decoded forms are cached per process (bounded):
decoding a reference's sketches costs more than judging a window.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitors.drift.models import MonitorReference
from monitors.drift.profiles import FieldProfile, merge_field_profiles, profiles_from_json
from monitors.drift.seasons import Minimum, choose


@dataclass(frozen=True)
class Slice:
    batches: int
    rows: int
    profiles: dict[str, FieldProfile]


_REFERENCES: dict[tuple[uuid.UUID, str], dict[str, FieldProfile]] = {}
_SLICES: dict[tuple[uuid.UUID, str], dict[str, Slice]] = {}
_VIEWS: dict[tuple[uuid.UUID, str, tuple[str, ...]], dict[str, FieldProfile]] = {}
_CACHE_SIZE = 256


def reference_profiles(reference: MonitorReference) -> dict[str, FieldProfile]:
    """The reference's decoded profiles (its `profiles` column is loaded only on a miss)."""
    key = (reference.id, reference.fingerprint)
    found = _REFERENCES.get(key)
    if found is None:
        found = _remember(_REFERENCES, key, profiles_from_json(reference.profiles))
    return found


def reference_view(
    reference: MonitorReference,
    first: datetime | None,
    last: datetime | None,
    minimum: Minimum,
) -> tuple[dict[str, FieldProfile], dict[str, Any]]:
    """What a window whose batches arrived from `first` to `last` is compared with: the whole
    reference, or with seasonality the slices of those hours; and a summary saying which."""
    whole = (reference.batch_count, reference.row_count)
    info: dict[str, Any] = {"id": str(reference.id), "version": reference.version}
    if reference.seasonality is None:
        info.update(slice="whole", batches=whole[0], rows=whole[1])
        return reference_profiles(reference), info
    slices = _decoded_slices(reference)
    stats = {k: (v.batches, v.rows) for k, v in slices.items()}
    choice = choose(stats, reference.seasonality, first, last, minimum, whole)
    info.update(
        slice="+".join(choice.keys) or "whole",
        level=choice.level,
        batches=choice.batches,
        rows=choice.rows,
        fallback=choice.fallback,
    )
    if not choice.keys:
        return reference_profiles(reference), info
    key = (reference.id, reference.fingerprint, choice.keys)
    found = _VIEWS.get(key)
    if found is None:
        found = _remember(_VIEWS, key, _merged([slices[k] for k in choice.keys]))
    return found, info


def _decoded_slices(reference: MonitorReference) -> dict[str, Slice]:
    key = (reference.id, reference.fingerprint)
    found = _SLICES.get(key)
    if found is None:
        decoded = {
            k: Slice(int(v["batches"]), int(v["rows"]), profiles_from_json(v["profiles"]))
            for k, v in (reference.slices or {}).items()
        }
        found = _remember(_SLICES, key, decoded)
    return found


def _merged(parts: list[Slice]) -> dict[str, FieldProfile]:
    if len(parts) == 1:
        return parts[0].profiles
    names = sorted({n for p in parts for n in p.profiles})
    out = {}
    for name in names:
        merged = merge_field_profiles(p.profiles[name] for p in parts if name in p.profiles)
        if merged is not None:
            out[name] = merged
    return out


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value
