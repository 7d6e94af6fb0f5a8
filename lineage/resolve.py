"""Resolve Marquez node ids to rows of the store; a missing node is a typed 404.

A dataset named by another dataset's `symlinks` facet is that dataset (as in Marquez, where
every symlink of a dataset points at its one row): `dataset:hive:db.orders` finds the
dataset whose symlinks name it, whether or not an event ever named `hive:db.orders` itself.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from lineage import repository
from lineage.errors import LineageNodeNotFound
from lineage.models import LineageDataset, LineageDatasetVersion, LineageJob, LineageRun
from lineage.nodes import NodeRef, splits


def find_dataset(
    session: Session, candidates: tuple[tuple[str, str], ...]
) -> LineageDataset | None:
    """The dataset these (namespace, name) splits name, through symlinks."""
    found = repository.find_dataset(session, candidates)
    if found is not None:
        primary = repository.symlink_primaries(session, [found.id]).get(found.id)
        return session.get(LineageDataset, primary) if primary is not None else found
    return repository.find_dataset_by_symlink(session, candidates)


def resolve_dataset(session: Session, ref: NodeRef) -> tuple[LineageDataset, str | None]:
    """The dataset (and requested version string) a `dataset:` or `datasetField:` id names."""
    found = find_dataset(session, ref.candidates)
    version = ref.version
    if found is None and version is not None and ref.kind == "dataset":
        found = find_dataset(session, splits(ref.raw.partition(":")[2]))  # '#' in a name
        version = None
    if found is None:
        raise LineageNodeNotFound(f"no dataset {ref.raw!r} in the lineage graph", field="node")
    return found, version


def resolve_version(
    session: Session, dataset: LineageDataset, version: str | None
) -> LineageDatasetVersion:
    row = (
        repository.find_version(session, dataset.id, version)
        if version is not None
        else repository.latest_version(session, dataset.id)
    )
    if row is None:
        what = f"version {version!r}" if version is not None else "any version"
        raise LineageNodeNotFound(
            f"dataset {dataset.namespace}:{dataset.name} has {'no ' + what}", field="version"
        )
    return row


def resolve_job(session: Session, ref: NodeRef) -> LineageJob:
    found = repository.find_job(session, ref.candidates)
    if found is None:
        raise LineageNodeNotFound(f"no job {ref.raw!r} in the lineage graph", field="node")
    return found


def resolve_run(session: Session, run_uuid: uuid.UUID) -> LineageRun:
    found = repository.find_run(session, run_uuid)
    if found is None:
        raise LineageNodeNotFound(f"no run {run_uuid} in the lineage graph", field="node")
    return found
