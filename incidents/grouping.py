"""Grouping by lineage: a signal joins an open incident it shares data or a model version with.

A signal (an alert, a burst of failing batches, a rollback) names datasets (contract ids) and
maybe a model version. Its *reach* adds every model version downstream of those datasets in
the lineage graph (the job graph: accepted rows → features → training → the model's versions,
as `contracts/impact.py` walks it), and, for a model-level signal, the contracts upstream of
the model. A signal within `incident_group_window_minutes` of an open incident's last signal
whose reach overlaps the incident's (same dataset, or a model version both reach) joins that
incident instead of opening another: alerts on two datasets upstream of the same model
version are one incident, not two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from incidents import repository
from incidents.models import Incident
from lineage import naming
from lineage import repository as lineage_repo
from lineage.graph import MODEL_LINKS

# Timeline kinds that count as a signal for the grouping window (a note does not).
SIGNAL_KINDS = (
    "opened",
    "first_bad_batch",
    "batch_failed",
    "quarantine",
    "alert_firing",
    "rollback",
    "grouped",
)
LINEAGE_DEPTH = 10
MAX_MODEL_VERSIONS = 500


@dataclass
class Reach:
    """What a signal or an incident touches: contract ids and `model:version` strings."""

    datasets: set[str] = field(default_factory=set)
    model_versions: set[str] = field(default_factory=set)

    def overlaps(self, other: Reach) -> bool:
        return bool(self.datasets & other.datasets or self.model_versions & other.model_versions)


def model_version_key(name: str, version: int | str) -> str:
    return f"{name}:{version}"


def reach_of(
    session: Session,
    namespace: str,
    *,
    datasets: Iterable[str] = (),
    model_name: str | None = None,
    model_version: int | None = None,
) -> Reach:
    """The datasets and the model versions downstream of them (and of a model-level signal)."""
    reach = Reach(datasets=set(datasets))
    if model_name is not None:
        reach.datasets |= upstream_contracts(session, namespace, model_name)
        if model_version is not None:
            reach.model_versions.add(model_version_key(model_name, model_version))
    reach.model_versions |= downstream_model_versions(session, namespace, reach.datasets)
    return reach


def downstream_model_versions(
    session: Session, namespace: str, contracts: Iterable[str]
) -> set[str]:
    """`model:version` of every model version downstream of these contracts' accepted rows."""
    starts = _dataset_ids(session, namespace, [naming.accepted_rows(c) for c in contracts])
    reached: set[int] = set()
    for dataset_id in starts:
        for row in lineage_repo.walk_job_graph(
            session, kind="dataset", node_id=dataset_id, depth=LINEAGE_DEPTH, downstream=True
        ):
            if row.kind == "dataset" and row.depth > 0:
                reached.add(row.id)
    if not reached:
        return set()
    versions = lineage_repo.versions_with_links(
        session, reached, MODEL_LINKS, limit=MAX_MODEL_VERSIONS
    )
    return {
        model_version_key(v.links[naming.MODEL_NAME], v.links[naming.MODEL_VERSION])
        for v in versions
        if naming.MODEL_NAME in (v.links or {}) and naming.MODEL_VERSION in v.links
    }


def upstream_contracts(session: Session, namespace: str, model_name: str) -> set[str]:
    """Contracts whose accepted rows a model was trained from (walked upstream in lineage)."""
    found: set[str] = set()
    for dataset_id in _dataset_ids(session, namespace, [naming.model(model_name)]):
        rows = lineage_repo.walk_job_graph(
            session, kind="dataset", node_id=dataset_id, depth=LINEAGE_DEPTH, downstream=False
        )
        ids = [r.id for r in rows if r.kind == "dataset"]
        for d in lineage_repo.datasets_by_id(session, ids):
            parts = d.name.split("/")
            if (
                d.namespace == namespace
                and len(parts) == 3
                and parts[::2]
                == [
                    "contracts",
                    "accepted",
                ]
            ):
                found.add(parts[1])
    return found


def _dataset_ids(session: Session, namespace: str, names: Sequence[str]) -> list[int]:
    ids = []
    for name in names:
        found = lineage_repo.find_dataset(session, [(namespace, name)])
        if found is not None:
            ids.append(found.id)
    return ids


def incident_reach(incident: Incident) -> Reach:
    """The reach an incident recorded when it opened and as signals joined it."""
    versions = set((incident.affected or {}).get("model_versions", []))
    if incident.model_name is not None and incident.model_version is not None:
        versions.add(model_version_key(incident.model_name, incident.model_version))
    return Reach(datasets=set(incident.datasets), model_versions=versions)


def find_group(
    session: Session, reach: Reach, *, now: datetime, window: timedelta
) -> Incident | None:
    """The newest open incident with a signal within `window` whose reach overlaps."""
    if not (reach.datasets or reach.model_versions):
        return None
    for incident in repository.recently_active(session, now - window, SIGNAL_KINDS):
        if incident_reach(incident).overlaps(reach):
            return incident
    return None
