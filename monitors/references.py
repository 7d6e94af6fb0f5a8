"""Reference profiles: what each monitored dataset's drift is measured against.

By default the reference is the profile of the batches the champion model was trained on:
the champion's model version comes from lineage (`champion/<model>`), its training batches
from the version's provenance in lineage or, when training was not recorded there, from the
model registry's `training_data` of that version. Without a champion, the contract's
`monitoring.reference` decides: a pinned window, or a trailing window (default 7 days)
recomputed once it is older than `monitor_reference_max_age`. Every (re)computation that
changes the profile is a new version; old versions stay so past verdicts stay explainable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from contracts import service as contracts
from contracts.durations import parse_duration
from contracts.spec import ContractSpec
from core import audit
from core.auth import Principal
from core.clock import utcnow
from core.settings import Settings
from monitors import repository
from monitors.drift import monitored_fields
from monitors.errors import ReferenceUnavailable
from monitors.models import MonitorReference
from monitors.profiles import (
    FieldProfile,
    fingerprint,
    merge_window,
    profiles_from_json,
    profiles_to_json,
)

DEFAULT_TRAILING = timedelta(days=7)


@dataclass(frozen=True)
class ReferenceSource:
    """Which batches make the reference, and why."""

    source: str  # champion_training | pinned_window | trailing_window
    batch_ids: list[uuid.UUID]
    window_start: datetime | None = None
    window_end: datetime | None = None
    model_name: str | None = None
    model_version: str | None = None


# Contract versions and references are immutable rows, so their parsed forms are cached
# per process (bounded): parsing a spec or a reference's sketches costs more than a window.
_SPECS: dict[tuple[str, str, str], ContractSpec] = {}
_REFERENCES: dict[tuple[uuid.UUID, str], dict[str, FieldProfile]] = {}
_CACHE_SIZE = 256


def current_spec(session: Session, contract_id: str) -> ContractSpec:
    contract = contracts.get_contract(session, contract_id)
    version = contracts.resolve_version(session, contract_id, contract.latest_version)
    key = (contract_id, version.version, version.fingerprint)
    spec = _SPECS.get(key)
    if spec is None:
        spec = _remember(_SPECS, key, contracts.spec_of(version))
    return spec


def reference_profiles(reference: MonitorReference) -> dict[str, FieldProfile]:
    """The reference's decoded profiles (its `profiles` column is loaded only on a miss)."""
    key = (reference.id, reference.fingerprint)
    found = _REFERENCES.get(key)
    if found is None:
        found = _remember(_REFERENCES, key, profiles_from_json(reference.profiles))
    return found


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


def champion_training_batches(
    session: Session, contract_id: str, *, settings: Settings
) -> ReferenceSource | None:
    """The batches of this contract upstream of the current champion, via lineage."""
    from lineage import graph, naming, queries
    from lineage.errors import LineageNodeNotFound

    ns = settings.lineage_namespace
    dataset = queries.find_dataset(session, [(ns, naming.champion(settings.monitor_model_name))])
    if dataset is None:
        return None
    latest = queries.latest_version(session, dataset.id)
    if latest is None:
        return None
    model_version = (latest.links or {}).get(naming.MODEL_VERSION) or latest.version
    node = f"dataset:{ns}:{naming.model(settings.monitor_model_name)}#{model_version}"
    try:
        found = graph.provenance(session, node=node, depth=20)
    except LineageNodeNotFound:
        return None
    ids = [uuid.UUID(b["batch_id"]) for b in found["batches"]]
    if not ids:  # training not in lineage: the registry records the version's training data
        ids = repository.registered_training_batches(
            session, settings.monitor_model_name, str(model_version)
        )
    mine = [b.id for b in repository.batches_by_id(session, ids) if b.contract_id == contract_id]
    if not mine:
        return None
    return ReferenceSource(
        "champion_training",
        mine,
        model_name=settings.monitor_model_name,
        model_version=str(model_version),
    )


def window_batches(
    session: Session, contract_id: str, spec: ContractSpec, now: datetime
) -> ReferenceSource:
    """The contract's pinned window, else its trailing window ending now."""
    ref = spec.monitoring.reference
    if ref.start is not None and ref.end is not None:
        start, end, source = ref.start, ref.end, "pinned_window"
    else:
        length = parse_duration(ref.window) if ref.window else DEFAULT_TRAILING
        start, end, source = now - length, now, "trailing_window"
    rows = repository.batches_between(session, contract_id, start, end)
    return ReferenceSource(source, [r.id for r in rows], start, end)


def resolve_source(
    session: Session, contract_id: str, spec: ContractSpec, *, settings: Settings, now: datetime
) -> ReferenceSource:
    return champion_training_batches(session, contract_id, settings=settings) or window_batches(
        session, contract_id, spec, now
    )


def build_reference(
    session: Session,
    actor: Principal,
    *,
    contract_id: str,
    settings: Settings,
    reason: str,
    audited: bool = True,
) -> MonitorReference:
    """Compute the reference now; a new version only if its profile changed."""
    repository.lock_contract_references(session, contract_id)
    spec = current_spec(session, contract_id)
    now = utcnow()
    src = resolve_source(session, contract_id, spec, settings=settings, now=now)
    if not src.batch_ids:
        raise ReferenceUnavailable(
            f"no accepted batches of {contract_id!r} in the reference window "
            f"({src.source} {src.window_start} .. {src.window_end})",
            field="dataset",
            rule="reference_has_data",
        )
    names = [f.name for f in monitored_fields(spec)]
    rows = repository.profiles_of(session, src.batch_ids, names)
    merged = merge_window(((r.field, r.profile) for r in rows), names)
    doc = profiles_to_json(merged)
    fp = fingerprint({"source": src.source, "model": src.model_version, "profiles": doc})
    active = repository.active_reference(session, contract_id)
    if active is not None and active.fingerprint == fp:
        return active
    row_count = sum(b.rows_accepted for b in repository.batches_by_id(session, src.batch_ids))
    reference = MonitorReference(
        contract_id=contract_id,
        version=(active.version + 1) if active else 1,
        source=src.source,
        model_name=src.model_name,
        model_version=src.model_version,
        window_start=src.window_start,
        window_end=src.window_end,
        batch_ids=[str(b) for b in src.batch_ids],
        row_count=row_count,
        profiles=doc,
        fingerprint=fp,
        reason=reason[:500],
        created_at=now,
        created_by=actor.name,
    )
    session.add(reference)
    session.flush()
    if audited:
        audit.record(
            session,
            actor=actor.name,
            action="monitor.reference.create",
            object_type="monitor_reference",
            object_id=f"{contract_id}:v{reference.version}",
            after={"source": src.source, "batches": len(src.batch_ids), "reason": reason},
        )
    return reference


def needs_refresh(
    session: Session,
    active: MonitorReference | None,
    spec: ContractSpec,
    *,
    settings: Settings,
    now: datetime,
) -> str | None:
    """Why the active reference should be recomputed, or None if it is current."""
    if active is None:
        return "no reference yet"
    wanted = {f.name for f in monitored_fields(spec)}
    if not wanted <= set(active.profiles):
        return "monitored fields changed"
    champion = champion_training_batches(session, active.contract_id, settings=settings)
    if champion is not None and (
        active.source != "champion_training" or active.model_version != champion.model_version
    ):
        return f"champion is now {champion.model_name} v{champion.model_version}"
    if champion is None and active.source == "champion_training":
        return "no champion training data any more"
    ref = spec.monitoring.reference
    pinned = (ref.start, ref.end)
    if active.source == "pinned_window" and (active.window_start, active.window_end) != pinned:
        return "pinned window changed"
    if active.source == "trailing_window" and ref.start is not None:
        return "a pinned window replaced the trailing one"
    max_age = parse_duration(settings.monitor_reference_max_age)
    if active.source == "trailing_window" and now - active.created_at >= max_age:
        return "trailing window is older than monitor_reference_max_age"
    return None


def ensure_reference(
    session: Session, actor: Principal, *, contract_id: str, settings: Settings
) -> MonitorReference | None:
    """The active reference, recomputed first when stale; None while there is no data."""
    spec = current_spec(session, contract_id)
    active = repository.active_reference(session, contract_id)
    why = needs_refresh(session, active, spec, settings=settings, now=utcnow())
    if why is None:
        return active
    try:
        return build_reference(
            session, actor, contract_id=contract_id, settings=settings, reason=why, audited=False
        )
    except ReferenceUnavailable:
        return active
