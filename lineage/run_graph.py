"""The run-level graph (runs and dataset versions), and one run in detail.

Asked for a run (`run:ID`) or a dataset version (`dataset:NS:NAME#VERSION`), the graph shows
what exactly was read and written: RUN and DATASET_VERSION nodes, walked through resolved
versions (repository.walk_impact / walk_provenance), never in Python.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from lineage import repository
from lineage.nodes import NodeRef, dataset_id_str, run_id_str
from lineage.resolve import resolve_dataset, resolve_run, resolve_version
from lineage.shape import Direction, Edges, node, sorted_graph


def run_graph(session: Session, ref: NodeRef, depth: int, direction: Direction) -> dict[str, Any]:
    roots, root_runs = version_roots(session, ref)
    versions: set[int] = set(roots)
    runs: set[int] = set(root_runs)
    if direction in ("downstream", "both"):
        start = roots or outputs_of(session, root_runs)
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
    return sorted_graph(_run_graph_nodes(session, versions, runs))


def version_roots(session: Session, ref: NodeRef) -> tuple[list[int], list[int]]:
    """(version ids, run ids) a `run:` or versioned `dataset:` node id starts from."""
    if ref.kind == "run":
        assert ref.run_id is not None
        return [], [resolve_run(session, ref.run_id).id]
    dataset, version = resolve_dataset(session, ref)
    return [resolve_version(session, dataset, version).id], []


def outputs_of(session: Session, run_ids: list[int]) -> list[int]:
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
    edges = Edges()
    io_by_run: dict[int, list[Any]] = defaultdict(list)
    for e in repository.run_io(session, run_ids):
        io_by_run[e.run_id].append(e)
        if e.version_id not in versions:
            continue
        v = versions[e.version_id]
        v_id = dataset_id_str(v.namespace, v.name, v.version)
        r_id = run_id_str(runs[e.run_id].run_uuid)
        edges.add(*((v_id, r_id) if e.direction == "in" else (r_id, v_id)))
    nodes = [
        node(
            dataset_id_str(v.namespace, v.name, v.version),
            "DATASET_VERSION",
            version_data(v),
            edges,
        )
        for v in versions.values()
    ]
    nodes += [
        node(run_id_str(r.run_uuid), "RUN", run_data(r, io_by_run[r.id]), edges)
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
