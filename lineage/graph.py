"""Graph answers: the Marquez-shaped lineage graph, impact, provenance, columns, runs.

Each function resolves a node id, runs one bounded recursive walk (repository.py), then fetches
details for just the nodes found and shapes them. Nothing walks the graph in Python.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy.orm import Session

from lineage import repository
from lineage.errors import InvalidNodeId, LineageNodeNotFound
from lineage.models import LineageDataset, LineageDatasetVersion, LineageJob, LineageRun
from lineage.nodes import (
    NodeRef,
    dataset_id_str,
    field_id_str,
    job_id_str,
    parse_node_id,
    run_id_str,
    splits,
)

Direction = Literal["upstream", "downstream", "both"]
MODEL_LINKS = ("model_version",)
WINDOW_LINKS = ("prediction_window",)


# --- resolving node ids ------------------------------------------------------------------


def resolve_dataset(session: Session, ref: NodeRef) -> tuple[LineageDataset, str | None]:
    """The dataset (and requested version string) a `dataset:` or `datasetField:` id names."""
    found = repository.find_dataset(session, ref.candidates)
    version = ref.version
    if found is None and version is not None:  # a '#' inside a name, not a version
        found = repository.find_dataset(session, splits(ref.raw.partition(":")[2]))
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


# --- the lineage graph --------------------------------------------------------------------


def lineage_graph(
    session: Session, *, node: str, depth: int, direction: Direction = "both"
) -> dict[str, Any]:
    """Nodes with in/out edges around `node`, in the shape of Marquez's `GET /api/v1/lineage`."""
    ref = parse_node_id(node)
    if ref.kind == "datasetField":
        return column_graph(session, node=node, depth=depth, direction=direction)
    if ref.kind == "run" or (ref.kind == "dataset" and ref.version is not None):
        return _run_graph(session, ref, depth, direction)
    if ref.kind == "dataset":
        start_kind, start_id = "dataset", resolve_dataset(session, ref)[0].id
    else:
        start_kind, start_id = "job", resolve_job(session, ref).id
    found: dict[tuple[str, int], int] = {(start_kind, start_id): 0}
    for downstream in _directions(direction):
        for row in repository.walk_job_graph(
            session, kind=start_kind, node_id=start_id, depth=depth, downstream=downstream
        ):
            key = (row.kind, row.id)
            found[key] = min(found.get(key, row.depth), row.depth)
    dataset_ids = [i for k, i in found if k == "dataset"]
    job_ids = [i for k, i in found if k == "job"]
    return {"graph": _job_graph_nodes(session, dataset_ids, job_ids)}


def _directions(direction: Direction) -> list[bool]:
    return {"downstream": [True], "upstream": [False], "both": [True, False]}[direction]


def _job_graph_nodes(
    session: Session, dataset_ids: list[int], job_ids: list[int]
) -> list[dict[str, Any]]:
    datasets = {r.id: r for r in repository.datasets_by_id(session, dataset_ids)}
    jobs = {r.id: r for r in repository.jobs_by_id(session, job_ids)}
    ds_facets = repository.current_facets(session, "dataset", dataset_ids)
    job_facets = repository.current_facets(session, "job", job_ids)
    ins: dict[str, list[dict[str, str]]] = defaultdict(list)
    outs: dict[str, list[dict[str, str]]] = defaultdict(list)
    job_io: dict[int, dict[str, list[dict[str, str]]]] = defaultdict(lambda: {"in": [], "out": []})
    for e in repository.job_edges(session, job_ids, dataset_ids):
        d, j = datasets[e.dataset_id], jobs[e.job_id]
        d_id, j_id = dataset_id_str(d.namespace, d.name), job_id_str(j.namespace, j.name)
        origin, dest = (d_id, j_id) if e.direction == "in" else (j_id, d_id)
        edge = {"origin": origin, "destination": dest}
        outs[origin].append(edge)
        ins[dest].append(edge)
        job_io[e.job_id][e.direction].append({"namespace": d.namespace, "name": d.name})
    nodes = [
        _node(
            dataset_id_str(d.namespace, d.name),
            "DATASET",
            _dataset_data(d, ds_facets.get(d.id, {})),
            ins,
            outs,
        )
        for d in datasets.values()
    ]
    nodes += [
        _node(
            job_id_str(j.namespace, j.name),
            "JOB",
            _job_data(j, job_facets.get(j.id, {}), job_io[j.id]),
            ins,
            outs,
        )
        for j in jobs.values()
    ]
    return nodes


def _node(node_id: str, kind: str, data: dict[str, Any], ins: Any, outs: Any) -> dict[str, Any]:
    key = lambda e: (e["origin"], e["destination"])  # noqa: E731
    return {
        "id": node_id,
        "type": kind,
        "data": data,
        "inEdges": sorted(ins.get(node_id, []), key=key),
        "outEdges": sorted(outs.get(node_id, []), key=key),
    }


def _dataset_data(d: Any, facets: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": {"namespace": d.namespace, "name": d.name},
        "type": "DB_TABLE",
        "namespace": d.namespace,
        "name": d.name,
        "physicalName": d.name,
        "sourceName": d.namespace,
        "fields": schema_fields(facets),
        "currentVersion": d.current_version,
        "createdAt": d.first_seen,
        "updatedAt": d.last_seen,
        "facets": facets,
    }


def _job_data(
    j: Any, facets: dict[str, Any], io: dict[str, list[dict[str, str]]]
) -> dict[str, Any]:
    latest = None
    if j.run_uuid is not None:
        latest = {
            "id": str(j.run_uuid),
            "state": j.state,
            "startedAt": j.started_at,
            "endedAt": j.ended_at,
        }
    return {
        "id": {"namespace": j.namespace, "name": j.name},
        "type": "BATCH",
        "namespace": j.namespace,
        "name": j.name,
        "inputs": sorted(io["in"], key=lambda d: (d["namespace"], d["name"])),
        "outputs": sorted(io["out"], key=lambda d: (d["namespace"], d["name"])),
        "latestRun": latest,
        "createdAt": j.first_seen,
        "updatedAt": j.last_seen,
        "facets": facets,
    }


def schema_fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    schema = facets.get("schema") or {}
    return [
        {k: f.get(k) for k in ("name", "type", "description") if f.get(k) is not None}
        for f in schema.get("fields") or []
        if isinstance(f, dict) and "name" in f
    ]


# --- run-level graph (runs and dataset versions) -------------------------------------------


def _run_graph(session: Session, ref: NodeRef, depth: int, direction: Direction) -> dict[str, Any]:
    roots, root_runs = _version_roots(session, ref)
    versions: set[int] = set(roots)
    runs: set[int] = set(root_runs)
    if direction in ("downstream", "both"):
        start = roots or _outputs_of(session, root_runs)
        for row in repository.walk_impact(session, start, depth):
            versions.add(row.version_id)
            runs.update(row.runs)
        versions.update(start)
    if direction in ("upstream", "both"):
        for row in repository.walk_provenance(session, roots, root_runs, depth):
            if row.version_id is not None:
                versions.add(row.version_id)
            runs.update(row.runs)
        runs.update(repository.runs_writing(session, roots))
    return {"graph": _run_graph_nodes(session, versions, runs)}


def _version_roots(session: Session, ref: NodeRef) -> tuple[list[int], list[int]]:
    if ref.kind == "run":
        assert ref.run_id is not None
        return [], [resolve_run(session, ref.run_id).id]
    dataset, version = resolve_dataset(session, ref)
    return [resolve_version(session, dataset, version).id], []


def _outputs_of(session: Session, run_ids: list[int]) -> list[int]:
    return [
        r.version_id
        for r in repository.run_io(session, run_ids)
        if r.direction == "out" and r.version_id
    ]


def _run_graph_nodes(
    session: Session, version_ids: set[int], run_ids: set[int]
) -> list[dict[str, Any]]:
    versions = {v.id: v for v in repository.versions_by_id(session, version_ids)}
    runs = {r.id: r for r in repository.runs_by_id(session, run_ids)}
    ins: dict[str, list[dict[str, str]]] = defaultdict(list)
    outs: dict[str, list[dict[str, str]]] = defaultdict(list)
    io_by_run: dict[int, list[Any]] = defaultdict(list)
    for e in repository.run_io(session, run_ids):
        io_by_run[e.run_id].append(e)
        if e.version_id not in versions:
            continue
        v = versions[e.version_id]
        v_id, r_id = (
            dataset_id_str(v.namespace, v.name, v.version),
            run_id_str(runs[e.run_id].run_uuid),
        )
        origin, dest = (v_id, r_id) if e.direction == "in" else (r_id, v_id)
        edge = {"origin": origin, "destination": dest}
        outs[origin].append(edge)
        ins[dest].append(edge)
    nodes = [
        _node(
            dataset_id_str(v.namespace, v.name, v.version),
            "DATASET_VERSION",
            version_data(v),
            ins,
            outs,
        )
        for v in versions.values()
    ]
    nodes += [
        _node(run_id_str(r.run_uuid), "RUN", run_data(r, io_by_run[r.id]), ins, outs)
        for r in runs.values()
    ]
    return nodes


def version_data(v: Any) -> dict[str, Any]:
    return {
        "id": {"namespace": v.namespace, "name": v.name, "version": v.version},
        "namespace": v.namespace,
        "name": v.name,
        "version": v.version,
        "createdByRun": str(v.producer_run_uuid) if v.producer_run_uuid else None,
        "createdAt": v.produced_at,
        "links": v.links,
    }


def run_data(r: Any, io: Iterable[Any] = ()) -> dict[str, Any]:
    def ref(e: Any) -> dict[str, Any]:
        return {"namespace": e.namespace, "name": e.name, "version": e.version}

    io = list(io)
    return {
        "id": str(r.run_uuid),
        "job": {"namespace": r.job_namespace, "name": r.job_name},
        "state": r.state,
        "startedAt": r.started_at,
        "endedAt": r.ended_at,
        "parentRunId": str(r.parent_run_uuid) if r.parent_run_uuid else None,
        "links": r.links,
        "inputs": [ref(e) for e in io if e.direction == "in"],
        "outputs": [ref(e) for e in io if e.direction == "out"],
    }


# --- impact and provenance ---------------------------------------------------------------


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
        roots = _outputs_of(session, [r.id])
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
    roots, root_runs = _version_roots(session, ref)
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


# --- column lineage ----------------------------------------------------------------------


def column_graph(
    session: Session, *, node: str, depth: int, direction: Direction = "both"
) -> dict[str, Any]:
    """datasetField nodes linked by `columnLineage` facets (Marquez's column-lineage shape)."""
    ref = parse_node_id(node)
    if ref.kind != "datasetField":
        raise InvalidNodeId(
            "column lineage starts at datasetField:NS:NAME:FIELD", field="node", rule="node_kind"
        )
    ds, _ = resolve_dataset(session, ref)
    assert ref.field is not None
    fields: dict[tuple[int, str], int] = {(ds.id, ref.field): 0}
    for downstream in _directions(direction):
        for row in repository.walk_columns(
            session, dataset_id=ds.id, field=ref.field, depth=depth, downstream=downstream
        ):
            fields[(row.dataset_id, row.field)] = min(
                fields.get((row.dataset_id, row.field), row.depth), row.depth
            )
    return {"graph": column_nodes(session, fields)}


def column_nodes(session: Session, fields: dict[tuple[int, str], int]) -> list[dict[str, Any]]:
    dataset_ids = {d for d, _ in fields}
    names = {d.id: d for d in repository.datasets_by_id(session, dataset_ids)}
    schema = {
        owner: {f["name"]: f.get("type") for f in schema_fields(facets)}
        for owner, facets in repository.current_facets(session, "dataset", dataset_ids).items()
    }

    def fid(dataset_id: int, field: str) -> str:
        d = names[dataset_id]
        return (
            field_id_str(d.namespace, d.name, field)
            if field
            else dataset_id_str(d.namespace, d.name)
        )

    ins: dict[str, list[dict[str, str]]] = defaultdict(list)
    outs: dict[str, list[dict[str, str]]] = defaultdict(list)
    inputs_of: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for e in repository.column_edges_between(session, dataset_ids):
        if (e.out_dataset_id, e.out_field) not in fields or (
            e.in_dataset_id,
            e.in_field,
        ) not in fields:
            continue
        origin, dest = fid(e.in_dataset_id, e.in_field), fid(e.out_dataset_id, e.out_field)
        edge = {"origin": origin, "destination": dest}
        if edge not in outs[origin]:
            outs[origin].append(edge)
            ins[dest].append(edge)
        src = names[e.in_dataset_id]
        inputs_of[(e.out_dataset_id, e.out_field)].append(
            {"namespace": src.namespace, "name": src.name, "field": e.in_field, **e.detail}
        )
    nodes = []
    for (dataset_id, field), depth in sorted(fields.items(), key=lambda kv: (kv[1], kv[0])):
        d = names[dataset_id]
        data = {
            "namespace": d.namespace,
            "dataset": d.name,
            "field": field or None,
            "fieldType": schema.get(dataset_id, {}).get(field),
            "inputFields": inputs_of.get((dataset_id, field), []),
            "depth": depth,
        }
        nodes.append(_node(fid(dataset_id, field), "DATASET_FIELD", data, ins, outs))
    return nodes


# --- a run and its history ---------------------------------------------------------------


def run_detail(session: Session, run_uuid: uuid.UUID) -> dict[str, Any]:
    run = resolve_run(session, run_uuid)
    row = repository.runs_by_id(session, [run.id])[0]
    facets = repository.current_facets(session, "run", [run.id]).get(run.id, {})
    return {
        **run_data(row, repository.run_io(session, [run.id])),
        "facets": facets,
        "childRunIds": [str(c) for c in repository.child_runs(session, run_uuid)],
        "history": [
            {"eventType": e.event_type, "eventTime": e.event_time, "receivedAt": e.received_at}
            for e in repository.run_events(session, run_uuid)
        ],
    }
