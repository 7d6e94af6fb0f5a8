"""Reference profiles: what each monitored dataset's drift is measured against.

By default the reference is the profile of the batches the champion model was trained on:
the champion's model version comes from lineage (`champion/<model>`), its training batches
from the version's provenance in lineage or, when training was not recorded there, from the
model registry's `training_data` of that version. Without a champion (or while its training
data is below the minimum), the contract's `monitoring.reference` decides: a pinned window, or
a trailing window (default 7 days) recomputed once it is older than `monitor_reference_max_age`.

A reference judged from a handful of batches turns noise into drift and would stay active for
a day, so none is built below `min_batches` and `min_rows` (contract, else settings); until
then drift is `no_data` and `pending_reason` says what is missing. Every (re)computation that
changes the profile is a new version; old versions stay so past verdicts stay explainable. A
reference that no longer applies (the champion changed) and that nothing can replace yet is
retired rather than left active.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from checks import repository as checks_repository
from contracts import service as contracts
from contracts.durations import parse_duration
from contracts.spec import ContractSpec
from core import audit
from core.auth import Principal
from core.clock import utcnow
from core.settings import Settings
from monitors.drift import repository
from monitors.drift.compare import monitored_fields
from monitors.drift.models import MonitorReference
from monitors.drift.profiles import FieldProfile, fingerprint, merge_window, profiles_to_json
from monitors.drift.reference_views import reference_profiles as reference_profiles
from monitors.drift.reference_views import reference_view as reference_view
from monitors.drift.seasons import Minimum, slice_keys
from monitors.errors import ReferenceUnavailable

DEFAULT_TRAILING = timedelta(days=7)


@dataclass(frozen=True)
class SourceBatch:
    id: uuid.UUID
    received_at: datetime
    rows: int


@dataclass(frozen=True)
class ReferenceSource:
    """Which batches make the reference, and why."""

    source: str  # champion_training | pinned_window | trailing_window
    batches: list[SourceBatch]
    window_start: datetime | None = None
    window_end: datetime | None = None
    model_name: str | None = None
    model_version: str | None = None

    @property
    def batch_ids(self) -> list[uuid.UUID]:
        return [b.id for b in self.batches]

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)

    def describe(self) -> str:
        if self.source == "champion_training":
            return f"the training data of champion {self.model_name} v{self.model_version}"
        start, end = _iso(self.window_start), _iso(self.window_end)
        return f"the {self.source.replace('_', ' ')} {start} .. {end}"

    def shortfall(self, minimum: Minimum) -> str | None:
        """What this source lacks to be a reference, or None when it is enough."""
        missing = []
        if len(self.batches) < minimum.batches:
            missing.append(f"{len(self.batches)} of the {minimum.batches} batches")
        if self.rows < minimum.rows:
            missing.append(f"{self.rows:,} of the {minimum.rows:,} rows")
        if not missing:
            return None
        return f"{self.describe()} has {' and '.join(missing)} a reference needs"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "?"


@dataclass(frozen=True)
class Resolution:
    """The source the reference is built from, or why there is none yet."""

    source: ReferenceSource | None
    pending: str | None  # why no source is enough (or why the champion's was not used)
    has_data: bool  # some source has accepted batches (if too few)


# Contract versions are immutable rows, so their parsed forms are cached per process
# (bounded): parsing a spec costs more than a window.
_SPECS: dict[tuple[str, str, str], ContractSpec] = {}
_CACHE_SIZE = 256


PASS_MEMO = "driftgate.monitor_pass"


@contextmanager
def monitor_pass(session: Session) -> Iterator[None]:
    """Answers that cannot change inside one monitor pass's transaction are computed once in
    it (`pass_memo`); outside a pass every call reads afresh."""
    session.info[PASS_MEMO] = {}
    try:
        yield
    finally:
        session.info.pop(PASS_MEMO, None)


def pass_memo(session: Session, name: str) -> dict[Any, Any]:
    """The named memo of the running monitor pass, or a throwaway dict outside one."""
    memos = session.info.get(PASS_MEMO)
    return {} if memos is None else memos.setdefault(name, {})


def current_spec(session: Session, contract_id: str) -> ContractSpec:
    """The contract's newest version, parsed. A monitor pass asks for it a dozen times per
    contract: the first answer is kept for the rest of the pass (one consistent version per
    pass), and only the version's key is read, never its document, unless not cached."""
    memo = pass_memo(session, "current_spec")
    spec = memo.get(contract_id)
    if spec is not None:
        return spec
    version, version_fingerprint = contracts.latest_version_key(session, contract_id)
    key = (contract_id, version, version_fingerprint)
    spec = _SPECS.get(key)
    if spec is None:
        row = contracts.get_version(session, contract_id, version)
        spec = _remember(_SPECS, key, contracts.spec_of(row))
    memo[contract_id] = spec
    return spec


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


def minimum_of(spec: ContractSpec, settings: Settings) -> Minimum:
    """The data a reference needs: the contract's `monitoring.reference`, else the settings."""
    ref = spec.monitoring.reference
    return Minimum(
        ref.min_batches or settings.monitor_reference_min_batches,
        ref.min_rows or settings.monitor_reference_min_rows,
    )


def slice_minimum(settings: Settings) -> Minimum:
    return Minimum(
        settings.monitor_reference_slice_min_batches, settings.monitor_reference_slice_min_rows
    )


def champion_training_batches(
    session: Session, contract_id: str, *, settings: Settings
) -> ReferenceSource | None:
    """The batches of this contract upstream of the current champion, via lineage."""
    from lineage import graph, naming
    from lineage import repository as lineage_store
    from lineage.errors import LineageNodeNotFound

    ns = settings.lineage_namespace
    champion = naming.champion(settings.monitor_model_name)
    dataset = lineage_store.find_dataset(session, [(ns, champion)])
    if dataset is None:
        return None
    latest = lineage_store.latest_version(session, dataset.id)
    if latest is None:
        return None
    model_version = (latest.links or {}).get(naming.MODEL_VERSION) or latest.version
    node = f"dataset:{ns}:{naming.model(settings.monitor_model_name)}#{model_version}"
    # one lineage walk per monitor pass (it asks once per contract and again for the pending
    # reason; the pass reads the graph inside one transaction)
    memo = pass_memo(session, "champion_training_ids")
    ids = memo.get(node)
    if ids is None:
        try:
            found = graph.provenance(session, node=node, depth=20)
        except LineageNodeNotFound:
            return None
        ids = [uuid.UUID(b["batch_id"]) for b in found["batches"]]
        if not ids:  # training not in lineage: the registry records the version's training
            ids = _registered_training_batches(session, settings.monitor_model_name, model_version)
        memo[node] = ids
    mine = [
        SourceBatch(b.id, b.received_at, int(b.rows_accepted))
        for b in checks_repository.batches_by_id(session, ids)
        if b.contract_id == contract_id and b.status in checks_repository.USABLE and b.rows_accepted
    ]
    if not mine:
        return None
    return ReferenceSource(
        "champion_training",
        mine,
        model_name=settings.monitor_model_name,
        model_version=str(model_version),
    )


def _registered_training_batches(session: Session, model: str, version: Any) -> list[uuid.UUID]:
    """The training batches the model registry records for a version (read-only)."""
    from governance.registry import repository as registry

    return (
        registry.training_batch_ids(session, model, int(version)) if str(version).isdigit() else []
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
    rows = checks_repository.usable_batches_between(session, contract_id, start, end)
    batches = [SourceBatch(r.id, r.received_at, int(r.rows_accepted)) for r in rows]
    return ReferenceSource(source, batches, start, end)


def resolve(
    session: Session,
    contract_id: str,
    spec: ContractSpec,
    *,
    settings: Settings,
    now: datetime,
    minimum: Minimum | None,
) -> Resolution:
    """The champion's training data if it is enough, else the contract's window if that is.

    Without `minimum` (an explicit request) any source with a batch will do.
    """
    champion = champion_training_batches(session, contract_id, settings=settings)
    candidates = [c for c in (champion, window_batches(session, contract_id, spec, now)) if c]
    reasons: list[str] = []
    for candidate in candidates:
        short = candidate.shortfall(minimum) if minimum else None
        if short is None and candidate.batches:
            return Resolution(candidate, "; ".join(reasons) or None, True)
        reasons.append(short or f"{candidate.describe()} has no accepted batches")
    return Resolution(None, "; ".join(reasons), any(c.batches for c in candidates))


def build_reference(
    session: Session,
    actor: Principal,
    *,
    contract_id: str,
    settings: Settings,
    reason: str,
    audited: bool = True,
    minimum: Minimum | None = None,
) -> MonitorReference:
    """Compute the reference now; a new version only if its profile changed.

    With `minimum`, a source below it is not used (`ReferenceUnavailable`, rule
    `reference_minimum`); without, any source with an accepted batch is.
    """
    repository.lock_contract_references(session, contract_id)
    spec = current_spec(session, contract_id)
    now = utcnow()
    found = resolve(session, contract_id, spec, settings=settings, now=now, minimum=minimum)
    src = found.source
    if src is None:
        raise ReferenceUnavailable(
            f"no reference for {contract_id!r} yet: {found.pending}",
            field="dataset",
            rule="reference_minimum" if found.has_data else "reference_has_data",
        )
    if found.pending:  # the champion's training data was not enough: say so in the reason
        reason = f"{reason} ({found.pending}; using {src.describe()})"
    names = [f.name for f in monitored_fields(spec)]
    seasonality = spec.monitoring.reference.seasonality
    merged, slices = _merge(session, src.batches, names, seasonality)
    doc = profiles_to_json(merged)
    fp = fingerprint(
        {"source": src.source, "model": src.model_version, "profiles": doc, "slices": slices}
    )
    active = repository.active_reference(session, contract_id)
    if active is not None and active.fingerprint == fp:
        return active
    latest = repository.latest_reference(session, contract_id)
    reference = MonitorReference(
        contract_id=contract_id,
        version=(latest.version + 1) if latest else 1,
        source=src.source,
        model_name=src.model_name,
        model_version=src.model_version,
        window_start=src.window_start,
        window_end=src.window_end,
        batch_ids=[str(b) for b in src.batch_ids],
        row_count=src.rows,
        batch_count=len(src.batches),
        first_batch_at=min(b.received_at for b in src.batches),
        last_batch_at=max(b.received_at for b in src.batches),
        profiles=doc,
        seasonality=seasonality,
        slices=slices,
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
            after={"source": src.source, "batches": len(src.batches), "reason": reason},
        )
    return reference


def _merge(
    session: Session, batches: Sequence[SourceBatch], names: list[str], seasonality: str | None
) -> tuple[dict[str, FieldProfile], dict[str, Any] | None]:
    """The merged profiles of all the batches, and with seasonality of each hour's batches."""
    rows = checks_repository.column_profiles_of(session, [b.id for b in batches], names)
    merged = merge_window(((r.field, r.profile) for r in rows), names)
    if seasonality is None:
        return merged, None
    keys_of = {b.id: slice_keys(b.received_at, seasonality) for b in batches}
    grouped: dict[str, list[SourceBatch]] = {}
    for b in batches:
        for key in keys_of[b.id]:
            grouped.setdefault(key, []).append(b)
    by_batch: dict[uuid.UUID, list[Any]] = {}
    for r in rows:
        by_batch.setdefault(r.batch_id, []).append(r)
    slices = {}
    for key, members in sorted(grouped.items()):
        part = merge_window(
            ((r.field, r.profile) for b in members for r in by_batch.get(b.id, [])), names
        )
        slices[key] = {
            "batches": len(members),
            "rows": sum(b.rows for b in members),
            "profiles": profiles_to_json(part),
        }
    return merged, slices


@dataclass(frozen=True)
class Refresh:
    reason: str
    invalidates: bool  # the active reference is wrong now, not just old


def needs_refresh(
    session: Session,
    active: MonitorReference | None,
    spec: ContractSpec,
    *,
    settings: Settings,
    now: datetime,
) -> Refresh | None:
    """Why the active reference should be recomputed, or None if it is current."""
    if active is None:
        return Refresh("no reference yet", invalidates=False)
    wanted = {f.name for f in monitored_fields(spec)}
    if not wanted <= set(active.profiles):
        return Refresh("monitored fields changed", invalidates=False)
    if active.seasonality != spec.monitoring.reference.seasonality:
        return Refresh("seasonality changed", invalidates=True)
    champion = champion_training_batches(session, active.contract_id, settings=settings)
    named = f"champion is now {champion.model_name} v{champion.model_version}" if champion else ""
    if champion is not None and champion.shortfall(minimum_of(spec, settings)) is not None:
        champion = None  # too little to be the reference: the window stands in for it
    if champion is not None and (
        active.source != "champion_training" or active.model_version != champion.model_version
    ):
        return Refresh(named, invalidates=True)
    if champion is None and active.source == "champion_training":
        reason = f"{named} (too little training data)" if named else "no champion any more"
        return Refresh(reason, invalidates=True)
    ref = spec.monitoring.reference
    pinned = (ref.start, ref.end)
    if active.source == "pinned_window" and (active.window_start, active.window_end) != pinned:
        return Refresh("pinned window changed", invalidates=True)
    if active.source == "trailing_window" and ref.start is not None:
        return Refresh("a pinned window replaced the trailing one", invalidates=True)
    max_age = parse_duration(settings.monitor_reference_max_age)
    if active.source == "trailing_window" and now - active.created_at >= max_age:
        return Refresh("trailing window is older than monitor_reference_max_age", False)
    return None


def ensure_reference(
    session: Session, actor: Principal, *, contract_id: str, settings: Settings
) -> MonitorReference | None:
    """The active reference, recomputed first when stale; None while there is not enough data.

    A reference that is merely old stays active until a new one can be built; one that no
    longer applies (another champion, another pinned window) is retired when it cannot be
    replaced, so drift reads `no_data` instead of judging against the wrong data.
    """
    spec = current_spec(session, contract_id)
    active = repository.active_reference(session, contract_id)
    refresh = needs_refresh(session, active, spec, settings=settings, now=utcnow())
    if refresh is None:
        return active
    try:
        return build_reference(
            session,
            actor,
            contract_id=contract_id,
            settings=settings,
            reason=refresh.reason,
            audited=False,
            minimum=minimum_of(spec, settings),
        )
    except ReferenceUnavailable as exc:
        if active is not None and refresh.invalidates:
            active.retired_at = utcnow()
            active.retired_reason = f"{refresh.reason}; {exc}"[:500]
            session.flush()
            return None
        return active


def pending_reason(session: Session, contract_id: str, *, settings: Settings) -> str:
    """Why a contract has no active reference: what its sources lack, or why it was retired."""
    spec = current_spec(session, contract_id)
    found = resolve(
        session,
        contract_id,
        spec,
        settings=settings,
        now=utcnow(),
        minimum=minimum_of(spec, settings),
    )
    if found.source is not None:
        return f"no reference yet; {found.source.describe()} is enough and the next run builds it"
    latest = repository.latest_reference(session, contract_id)
    retired = (
        f" (v{latest.version} retired: {latest.retired_reason})"
        if latest and latest.retired_at
        else ""
    )
    return f"no reference yet{retired}: {found.pending}"


def coverage(reference: MonitorReference) -> dict[str, Any]:
    """What a reference covers, as the API shows it with every drift answer."""
    return {
        "id": str(reference.id),
        "version": reference.version,
        "source": reference.source,
        "model_name": reference.model_name,
        "model_version": reference.model_version,
        "window_start": reference.window_start,
        "window_end": reference.window_end,
        "batches": reference.batch_count,
        "rows": reference.row_count,
        "first_batch_at": reference.first_batch_at,
        "last_batch_at": reference.last_batch_at,
        "seasonality": reference.seasonality,
        "created_at": reference.created_at,
        "reason": reference.reason,
    }


def described(
    reference: MonitorReference, active: MonitorReference | None, slices: dict[str, Any] | None
) -> dict[str, Any]:
    """A reference version as the API shows it: its columns, fields, slices, whether active."""
    return {
        **reference.__dict__,
        "fields": sorted(reference.profiles),
        "slices": slices,
        "active": active is not None and reference.id == active.id,
    }


def described_versions(session: Session, contract_id: str) -> list[dict[str, Any]]:
    """Every version of a contract's reference, newest first, each `described`."""
    versions = repository.reference_versions(session, contract_id)
    active = repository.active_reference(session, contract_id)
    slices = repository.reference_slices(session, [r.id for r in versions])
    return [described(r, active, slices.get(r.id)) for r in versions]


def active_status(session: Session, contract_id: str, *, settings: Settings) -> dict[str, Any]:
    """The reference drift is judged against now, or why there is none yet."""
    active = repository.active_reference(session, contract_id)
    if active is None:
        pending = pending_reason(session, contract_id, settings=settings)
        return {"contract_id": contract_id, "reference": None, "pending": pending}
    slices = repository.reference_slices(session, [active.id])
    return {
        "contract_id": contract_id,
        "reference": described(active, active, slices.get(active.id)),
        "pending": None,
    }


def recompute(
    session: Session, actor: Principal, *, contract_id: str, settings: Settings, force: bool
) -> dict[str, Any]:
    """Build the reference now on request (with `force`, even below the minimum), `described`."""
    minimum = None if force else minimum_of(current_spec(session, contract_id), settings)
    ref = build_reference(
        session,
        actor,
        contract_id=contract_id,
        settings=settings,
        reason="requested via API" + (" (forced below the minimum)" if force else ""),
        minimum=minimum,
    )
    slices = repository.reference_slices(session, [ref.id])
    return described(ref, ref, slices.get(ref.id))
