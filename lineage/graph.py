"""The lineage graph as Marquez's `GET /api/v1/lineage` returns it, and the read entry points.

`lineage_graph` resolves a node id and runs one bounded recursive walk (repository.py):
over jobs and datasets for `dataset:`/`job:` ids (Marquez's graph), over runs and dataset
versions for `run:` and versioned `dataset:` ids (`run_graph`), over fields for
`datasetField:` ids (`columns`). It then fetches details for just the nodes found and
shapes them with `marquez` (node data field by field as Marquez's models). Nothing walks the
graph in Python.

A dataset named in another's `symlinks` facet is one node with it: the walk crosses symlinks
at no cost in depth, and the alias's edges are drawn on the dataset that declares it.

The other reads live in their own modules and are re-exported here for existing callers:
impact and provenance (`impact`), column lineage (`columns`), a run (`run_graph`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from lineage import marquez, repository
from lineage.columns import column_graph
from lineage.impact import MODEL_LINKS, WINDOW_LINKS, impact, provenance
from lineage.nodes import dataset_id_str, job_id_str, parse_node_id
from lineage.resolve import resolve_dataset, resolve_job, resolve_run, resolve_version
from lineage.run_graph import run_data, run_detail, run_graph, version_data
from lineage.shape import Direction, Edges, directions, node, sorted_graph

__all__ = [
    "MODEL_LINKS",
    "WINDOW_LINKS",
    "Direction",
    "column_graph",
    "impact",
    "lineage_graph",
    "provenance",
    "resolve_dataset",
    "resolve_job",
    "resolve_run",
    "resolve_version",
    "run_data",
    "run_detail",
    "version_data",
]


def lineage_graph(
    session: Session, *, node: str, depth: int, direction: Direction = "both"
) -> dict[str, Any]:
    """Nodes with in/out edges around `node`, in the shape of Marquez's `GET /api/v1/lineage`."""
    ref = parse_node_id(node)
    if ref.kind == "datasetField":
        return column_graph(session, node=node, depth=depth, direction=direction)
    if ref.kind == "run" or (ref.kind == "dataset" and ref.version is not None):
        return run_graph(session, ref, depth, direction)
    if ref.kind == "dataset":
        start_kind, start_id = "dataset", resolve_dataset(session, ref)[0].id
    else:
        start_kind, start_id = "job", resolve_job(session, ref).id
    found: dict[tuple[str, int], int] = {(start_kind, start_id): 0}
    for downstream in directions(direction):
        for row in repository.walk_job_graph(
            session, kind=start_kind, node_id=start_id, depth=depth, downstream=downstream
        ):
            key = (row.kind, row.id)
            found[key] = min(found.get(key, row.depth), row.depth)
    dataset_ids = [i for k, i in found if k == "dataset"]
    job_ids = [i for k, i in found if k == "job"]
    return sorted_graph(_job_graph_nodes(session, dataset_ids, job_ids))


def _job_graph_nodes(
    session: Session, dataset_ids: list[int], job_ids: list[int]
) -> list[dict[str, Any]]:
    alias_of = repository.symlink_primaries(session, dataset_ids)
    primary = {d: alias_of.get(d, d) for d in dataset_ids}
    datasets = {r.id: r for r in repository.datasets_by_id(session, set(primary.values()))}
    jobs = {r.id: r for r in repository.jobs_by_id(session, job_ids)}
    ds_facets = repository.current_facets(session, "dataset", datasets)
    job_facets = repository.current_facets(session, "job", job_ids)
    edges = Edges()
    job_io: dict[int, dict[str, list[dict[str, str]]]] = defaultdict(lambda: {"in": [], "out": []})
    for e in repository.job_edges(session, job_ids, dataset_ids):
        d, j = datasets[primary[e.dataset_id]], jobs[e.job_id]
        d_id, j_id = dataset_id_str(d.namespace, d.name), job_id_str(j.namespace, j.name)
        edges.add(*((d_id, j_id) if e.direction == "in" else (j_id, d_id)))
        ref = {"namespace": d.namespace, "name": d.name}
        if ref not in job_io[e.job_id][e.direction]:
            job_io[e.job_id][e.direction].append(ref)
    nodes = [
        node(
            dataset_id_str(d.namespace, d.name),
            "DATASET",
            marquez.dataset_data(d, ds_facets.get(d.id, {})),
            edges,
        )
        for d in datasets.values()
    ]
    latest = _latest_runs(session, list(jobs.values()), job_facets)
    nodes += [
        node(
            job_id_str(j.namespace, j.name),
            "JOB",
            marquez.job_data(
                j, job_facets.get(j.id, {}), job_io[j.id], *latest.get(j.id, (None, {}))
            ),
            edges,
        )
        for j in jobs.values()
    ]
    return nodes


def _latest_runs(
    session: Session, jobs: list[Any], job_facets: dict[int, dict[str, Any]]
) -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
    """Per job id, its latest run as Marquez's `Run`, and that run's facets."""
    runs = {j.run_id: j for j in jobs if j.run_id is not None}
    run_facets = repository.current_facets(session, "run", runs)
    io = repository.run_io(session, runs)
    edge_facets = {
        **repository.current_facets(session, "input", [e.id for e in io if e.direction == "in"]),
        **repository.current_facets(session, "output", [e.id for e in io if e.direction == "out"]),
    }
    io_by_run: dict[int, list[Any]] = defaultdict(list)
    for e in io:
        io_by_run[e.run_id].append(e)
    out = {}
    for run_id, j in runs.items():
        facets = run_facets.get(run_id, {})
        row = _RunRow(j)
        out[j.id] = (
            marquez.run(
                row,
                job_namespace=j.namespace,
                job_name=j.name,
                job_location=marquez.location(job_facets.get(j.id, {})),
                facets=facets,
                io=io_by_run[run_id],
                edge_facets=edge_facets,
            ),
            facets,
        )
    return out


class _RunRow:
    """The latest-run columns of a `repository.jobs_by_id` row, named as a run's."""

    def __init__(self, j: Any) -> None:
        self.run_uuid = j.run_uuid
        self.state = j.state
        self.started_at = j.started_at
        self.ended_at = j.ended_at
        self.first_seen = j.run_first_seen
        self.last_seen = j.run_last_seen
