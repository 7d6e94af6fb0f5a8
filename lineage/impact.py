"""Impact (everything downstream of a dataset version) and provenance (everything upstream).

Each answer resolves its root, runs one bounded recursive walk over resolved versions
(repository.walk_impact / walk_provenance), then fetches details for the nodes found.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from lineage import repository
from lineage.errors import InvalidNodeId, LineageNodeNotFound
from lineage.nodes import dataset_id_str, parse_node_id
from lineage.resolve import resolve_dataset, resolve_run, resolve_version
from lineage.run_graph import outputs_of, run_data, version_data, version_roots

MODEL_LINKS = ("model_version",)
WINDOW_LINKS = ("prediction_window",)


def impact(
    session: Session,
    *,
    dataset: str | None = None,
    version: str | None = None,
    batch: uuid.UUID | None = None,
    run: uuid.UUID | None = None,
    depth: int = 10,
) -> dict[str, Any]:
    """Everything downstream of a dataset version (or a batch's versions, or a run's outputs)."""
    roots, root_label = _impact_roots(
        session, dataset=dataset, version=version, batch=batch, run=run
    )
    walked = repository.walk_impact(session, roots, depth)
    depth_of = {r.version_id: r.depth for r in walked}
    run_ids = {rid for r in walked for rid in r.runs}
    versions = [v for v in repository.versions_by_id(session, depth_of) if depth_of[v.id] > 0]
    runs = repository.runs_by_id(session, run_ids)
    return {
        "root": root_label,
        "depth": depth,
        "datasets": [
            {**version_data(v), "depth": depth_of[v.id]}
            for v in versions
            if not _has_link(v, MODEL_LINKS + WINDOW_LINKS)
        ],
        "model_versions": [
            {**version_data(v), "depth": depth_of[v.id]}
            for v in versions
            if _has_link(v, MODEL_LINKS)
        ],
        "prediction_windows": [
            {**version_data(v), "depth": depth_of[v.id]}
            for v in versions
            if _has_link(v, WINDOW_LINKS)
        ],
        "runs": [run_data(r) for r in runs],
        "jobs": sorted({f"{r.job_namespace}:{r.job_name}" for r in runs}),
    }


def _has_link(v: Any, keys: tuple[str, ...]) -> bool:
    return any(k in (v.links or {}) for k in keys)


def _impact_roots(
    session: Session,
    *,
    dataset: str | None,
    version: str | None,
    batch: uuid.UUID | None,
    run: uuid.UUID | None,
) -> tuple[list[int], dict[str, Any]]:
    given = [x for x in (dataset, batch, run) if x is not None]
    if len(given) != 1:
        raise InvalidNodeId(
            "name exactly one of dataset (with optional version), batch or run",
            field="dataset",
            rule="one_root",
        )
    if batch is not None:
        roots = repository.versions_linked(session, {"batch_id": str(batch)})
        if not roots:
            raise LineageNodeNotFound(f"batch {batch} has no lineage", field="batch")
        return roots, {
            "batch": str(batch),
            "versions": [version_data(v) for v in repository.versions_by_id(session, roots)],
        }
    if run is not None:
        r = resolve_run(session, run)
        roots = outputs_of(session, [r.id])
        return roots, {
            "run": str(run),
            "versions": [version_data(v) for v in repository.versions_by_id(session, roots)],
        }
    assert dataset is not None
    ref = parse_node_id(
        dataset if dataset.startswith("dataset:") else f"dataset:{dataset}", field="dataset"
    )
    ds, parsed_version = resolve_dataset(session, ref)
    row = resolve_version(session, ds, version if version is not None else parsed_version)
    label = {"dataset": {"namespace": ds.namespace, "name": ds.name}, "version": row.version}
    return [row.id], label


def provenance(session: Session, *, node: str, depth: int = 10) -> dict[str, Any]:
    """Everything upstream of a node: datasets, runs, batches, contract versions, checks."""
    ref = parse_node_id(node)
    if ref.kind not in ("dataset", "run"):
        raise InvalidNodeId(
            "provenance starts at a dataset (optionally #version) or a run",
            field="node",
            rule="node_kind",
        )
    roots, root_runs = version_roots(session, ref)
    walked = repository.walk_provenance(session, roots, root_runs, depth)
    version_depth = {r.version_id: r.depth for r in walked if r.version_id is not None}
    run_ids = set(root_runs) | set(repository.runs_writing(session, version_depth))
    run_ids |= {rid for r in walked for rid in r.runs}
    versions = repository.versions_by_id(session, version_depth)
    unresolved = [r.dataset_id for r in walked if r.version_id is None]
    runs = repository.runs_by_id(session, run_ids)
    return {
        "root": node,
        "depth": depth,
        "datasets": [{**version_data(v), "depth": version_depth[v.id]} for v in versions],
        "unversioned_inputs": [
            {"namespace": d.namespace, "name": d.name}
            for d in repository.datasets_by_id(session, unresolved)
        ],
        "runs": [run_data(r) for r in runs],
        "jobs": sorted({f"{r.job_namespace}:{r.job_name}" for r in runs}),
        "batches": _batches(versions),
        "contract_versions": _contract_versions(versions),
        "check_results": _check_results(session, runs),
    }


def _batches(versions: list[Any]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for v in versions:
        batch = (v.links or {}).get("batch_id")
        if batch:
            entry = out.setdefault(batch, {"batch_id": batch, "datasets": []})
            entry["datasets"].append(dataset_id_str(v.namespace, v.name, v.version))
    return sorted(out.values(), key=lambda b: b["batch_id"])


def _contract_versions(versions: list[Any]) -> list[dict[str, str]]:
    found = {
        (v.links["contract_id"], v.links.get("contract_version", ""))
        for v in versions
        if (v.links or {}).get("contract_id")
    }
    return [{"contract_id": c, "version": ver} for c, ver in sorted(found)]


def _check_results(session: Session, runs: list[Any]) -> list[dict[str, Any]]:
    """dataQualityAssertions on the inputs of these runs (where checks report results)."""
    by_id = {r.id: r for r in runs}
    rows = repository.assertion_results(session, by_id)
    datasets = {d.id: d for d in repository.datasets_by_id(session, {r.dataset_id for r in rows})}
    results = []
    for row in rows:
        r, d = by_id[row.run_id], datasets[row.dataset_id]
        results.append(
            {
                "run_id": str(r.run_uuid),
                "job": {"namespace": r.job_namespace, "name": r.job_name},
                "dataset": {"namespace": d.namespace, "name": d.name},
                "batch_id": (r.links or {}).get("batch_id"),
                "passed": row.passed,
                "failed": row.failed,
                "failed_assertions": [
                    {k: v for k, v in a.items() if v is not None} for a in row.failed_assertions
                ],
            }
        )
    return sorted(results, key=lambda c: (c["run_id"], c["dataset"]["name"]))
