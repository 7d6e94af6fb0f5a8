"""Contract change impact: which downstream columns, datasets, model versions and served
predictions read the fields a contract version drops or changes.

The changes come from `contracts.compat.diff`; the reach comes from column lineage
(`columnLineage` facets) starting at every dataset linked to the contract. Downstream datasets
that have no column lineage cannot be ruled out, so they are listed apart as "may be affected".
Contracts owns this question and reads the lineage store through `lineage.repository`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from contracts import compat, service
from contracts.repository import list_versions
from contracts.spec import ContractSpec
from lineage import repository
from lineage.errors import LineageNodeNotFound
from lineage.graph import MODEL_LINKS, WINDOW_LINKS, version_data
from lineage.nodes import dataset_id_str


def affected_fields(changes: list[compat.Change]) -> dict[str, list[dict[str, Any]]]:
    """Field name → the changes that drop it or change what it may hold (pure)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in changes:
        parts = c.path.split(".")
        if parts[0] != "fields" or len(parts) < 2:
            continue
        if c.kind == "field_removed" or c.breaks:
            out[parts[1]].append(c.to_json())
    return dict(out)


def contract_version_impact(
    session: Session,
    *,
    contract_id: str,
    version: str,
    against: str | None = None,
    depth: int = 10,
) -> dict[str, Any]:
    """Impact of a registered version, compared with `against` (default: the one before it)."""
    target = service.spec_of(service.get_version(session, contract_id, version))
    base_version = against or _previous_version(session, contract_id, version)
    base = (
        service.spec_of(service.get_version(session, contract_id, base_version))
        if base_version
        else None
    )
    return _impact(session, contract_id, base, target, depth)


def proposed_impact(
    session: Session,
    *,
    contract_id: str,
    spec: ContractSpec,
    against: str | None = None,
    depth: int = 10,
) -> dict[str, Any]:
    """Impact of a proposed (unregistered) document against a registered version."""
    contract = service.get_contract(session, contract_id)
    base = service.spec_of(
        service.get_version(session, contract_id, against or contract.latest_version)
    )
    return _impact(session, contract_id, base, spec, depth)


def _previous_version(session: Session, contract_id: str, version: str) -> str | None:
    ordered = [v.version for v in list_versions(session, contract_id)]
    i = ordered.index(version)
    return ordered[i - 1] if i > 0 else None


def _impact(
    session: Session, contract_id: str, base: ContractSpec | None, target: ContractSpec, depth: int
) -> dict[str, Any]:
    changes = compat.diff(base, target) if base is not None else []
    fields = affected_fields(changes)
    start = _contract_datasets(session, contract_id, base or target)
    reached: dict[tuple[int, str], int] = {}
    per_field: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    for name in fields:
        for dataset_id in start:
            for row in repository.walk_columns(
                session, dataset_id=dataset_id, field=name, depth=depth, downstream=True
            ):
                if row.depth == 0:
                    continue
                per_field[name].append((row.dataset_id, row.field, row.depth))
                key = (row.dataset_id, row.field)
                reached[key] = min(reached.get(key, row.depth), row.depth)
    reached_datasets = {d for d, _ in reached}
    names = {d.id: d for d in repository.datasets_by_id(session, reached_datasets | set(start))}
    maybe = _without_column_lineage(session, start, depth, names) if fields else []
    linked = repository.versions_with_links(session, reached_datasets, MODEL_LINKS + WINDOW_LINKS)
    return {
        "contract_id": contract_id,
        "version": target.version,
        "against": base.version if base else None,
        "changes": [c for cs in fields.values() for c in cs],
        "fields": [
            {
                "field": name,
                "changes": [c["kind"] for c in fields[name]],
                "downstream": [
                    {
                        "dataset": dataset_id_str(names[d].namespace, names[d].name),
                        "field": f or None,
                        "depth": dep,
                    }
                    for d, f, dep in sorted(set(per_field[name]), key=lambda x: (x[2], x[0], x[1]))
                ],
            }
            for name in sorted(fields)
        ],
        "lineage_datasets": sorted(
            dataset_id_str(names[d].namespace, names[d].name) for d in start
        ),
        "datasets": sorted(
            {dataset_id_str(names[d].namespace, names[d].name) for d in reached_datasets}
        ),
        "may_be_affected": maybe,
        "model_versions": [
            version_data(v) for v in linked if any(k in v.links for k in MODEL_LINKS)
        ],
        "prediction_windows": [
            version_data(v) for v in linked if any(k in v.links for k in WINDOW_LINKS)
        ],
    }


def _contract_datasets(session: Session, contract_id: str, spec: ContractSpec) -> list[int]:
    """Datasets whose versions are linked to the contract, plus its declared dataset."""
    version_ids = repository.versions_linked(session, {"contract_id": contract_id})
    ids = {v.dataset_id for v in repository.versions_by_id(session, version_ids)}
    declared = repository.find_dataset(session, [(spec.dataset.namespace, spec.dataset.name)])
    if declared is not None:
        ids.add(declared.id)
    if not ids:
        raise LineageNodeNotFound(
            f"contract {contract_id!r} has no lineage yet: no batch has been checked against it",
            field="contract_id",
            rule="has_lineage",
        )
    return sorted(ids)


def _without_column_lineage(
    session: Session, start: list[int], depth: int, names: dict[int, Any]
) -> list[str]:
    """Downstream datasets with no column lineage: they read the data, maybe the fields."""
    downstream: set[int] = set()
    for dataset_id in start:
        for row in repository.walk_job_graph(
            session, kind="dataset", node_id=dataset_id, depth=depth, downstream=True
        ):
            if row.kind == "dataset" and row.id not in start:
                downstream.add(row.id)
    unknown = downstream - repository.datasets_with_column_lineage(session, downstream)
    rows = repository.datasets_by_id(session, unknown)
    return [dataset_id_str(d.namespace, d.name) for d in rows]
