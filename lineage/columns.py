"""Column lineage, as Marquez's `GET /api/v1/column-lineage` answers it.

The walk starts at one field (`datasetField:NS:NAME:FIELD`), at every field of a dataset
that takes part in column lineage (`dataset:NS:NAME`), or at every such field of the
datasets a job writes (`job:NS:NAME`); a dataset or field id may name a version (`#VERSION`),
in which case every node id carries the version of its dataset current at that version's time
and `datasetVersion` says which. Each node's data follows Marquez's `ColumnLineageNodeData`:
`namespace`, `dataset`, `datasetVersion`, `field`, `fieldType`, `transformationDescription`,
`transformationType` (those of its first input field, as Marquez's deprecated getters do) and
`inputFields` (`InputFieldNodeData`: `namespace`, `dataset`, `datasetVersion`, `field`,
`transformationDescription`, `transformationType`). driftgate adds `depth`, and on an input
field the spec's `transformations` list when the producer sent one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from lineage import repository
from lineage.errors import InvalidNodeId, LineageNodeNotFound
from lineage.marquez import fields as schema_fields
from lineage.models import LineageDataset
from lineage.nodes import NodeRef, dataset_id_str, field_id_str, parse_node_id
from lineage.resolve import resolve_dataset, resolve_job, resolve_version
from lineage.shape import Direction, Edges, directions, node, sorted_graph

FieldKey = tuple[int, str]  # (dataset id, field); '' is the whole dataset


def column_graph(
    session: Session, *, node: str, depth: int, direction: Direction = "both"
) -> dict[str, Any]:
    """DATASET_FIELD nodes linked by `columnLineage` facets, around a field or a dataset."""
    ref = parse_node_id(node)
    if ref.kind == "run":
        raise InvalidNodeId(
            "column lineage starts at datasetField:NS:NAME:FIELD[#VERSION], "
            "dataset:NS:NAME[#VERSION] or job:NS:NAME",
            field="node",
            rule="node_kind",
        )
    if ref.kind == "job":
        return sorted_graph(
            column_nodes(session, _walk(session, _job_starts(session, ref), depth, direction))
        )
    dataset, version, field = _root(session, ref)
    starts = [(dataset.id, field)] if field is not None else _dataset_starts(session, dataset)
    found = _walk(session, starts, depth, direction)
    versions: dict[int, str] | None = None
    if version is not None:
        root = resolve_version(session, dataset, version)
        at = root.produced_at or root.first_seen
        versions = repository.version_as_of(session, {d for d, _ in found}, at)
        versions[dataset.id] = root.version
    return sorted_graph(column_nodes(session, found, versions))


def _walk(
    session: Session, starts: list[FieldKey], depth: int, direction: Direction
) -> dict[FieldKey, int]:
    """Every field reachable from the starts, with its least depth."""
    found: dict[FieldKey, int] = {start: 0 for start in starts}
    for downstream in directions(direction):
        for row in repository.walk_columns_from(
            session, starts, depth=depth, downstream=downstream
        ):
            key = (row.dataset_id, row.field)
            found[key] = min(found.get(key, row.depth), row.depth)
    return found


def _job_starts(session: Session, ref: NodeRef) -> list[FieldKey]:
    """The column-lineage fields of the datasets a job writes (Marquez's job node ids)."""
    job = resolve_job(session, ref)
    starts = [
        (dataset_id, name)
        for dataset_id in repository.job_outputs(session, job.id)
        for name in repository.column_fields_of(session, dataset_id)
    ]
    if not starts:
        raise LineageNodeNotFound(
            f"job {job.namespace}:{job.name} writes no dataset with column lineage", field="node"
        )
    return starts


def _root(session: Session, ref: NodeRef) -> tuple[LineageDataset, str | None, str | None]:
    """(dataset, version or None, field or None for a whole dataset)."""
    dataset, version = resolve_dataset(session, ref)
    if ref.kind == "dataset":
        return dataset, version, None
    assert ref.field is not None
    field = ref.field
    if version is not None and repository.find_version(session, dataset.id, version) is None:
        field, version = f"{field}#{version}", None  # a '#' inside the field's name
    if field not in _known_fields(session, dataset):
        raise LineageNodeNotFound(
            f"dataset {dataset.namespace}:{dataset.name} has no field {field!r}", field="node"
        )
    return dataset, version, field


def _known_fields(session: Session, dataset: LineageDataset) -> set[str]:
    """Fields in column lineage or in the dataset's current `schema` facet."""
    facets = repository.current_facets(session, "dataset", [dataset.id]).get(dataset.id, {})
    return set(repository.column_fields_of(session, dataset.id)) | {
        f["name"] for f in schema_fields(facets)
    }


def _dataset_starts(session: Session, dataset: LineageDataset) -> list[FieldKey]:
    names = repository.column_fields_of(session, dataset.id)
    if not names:
        raise LineageNodeNotFound(
            f"dataset {dataset.namespace}:{dataset.name} has no column lineage", field="node"
        )
    return [(dataset.id, name) for name in names]


def transformation(detail: dict[str, Any]) -> tuple[str | None, str | None]:
    """(type, description): the facet's field-level values (what Marquez reads), else those
    of the first entry of the newer per-input `transformations` list."""
    kind, description = detail.get("transformationType"), detail.get("transformationDescription")
    steps = detail.get("transformations")
    if kind is None and description is None and isinstance(steps, list) and steps:
        first = steps[0] if isinstance(steps[0], dict) else {}
        kind, description = first.get("type"), first.get("description")
    return (
        kind if isinstance(kind, str) else None,
        description if isinstance(description, str) else None,
    )


def column_nodes(
    session: Session, fields: dict[FieldKey, int], versions: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """The nodes of these fields (with their depth), edges between them, Marquez's layout."""
    dataset_ids = {d for d, _ in fields}
    names = {d.id: d for d in repository.datasets_by_id(session, dataset_ids)}
    types = {
        owner: {f["name"]: f["type"] for f in schema_fields(facets)}
        for owner, facets in repository.current_facets(session, "dataset", dataset_ids).items()
    }

    def version_of(dataset_id: int) -> str | None:
        return versions.get(dataset_id) if versions is not None else None

    def fid(dataset_id: int, field: str) -> str:
        d = names[dataset_id]
        if not field:
            return dataset_id_str(d.namespace, d.name, version_of(dataset_id))
        return field_id_str(d.namespace, d.name, field, version_of(dataset_id))

    edges = Edges()
    inputs_of: dict[FieldKey, list[dict[str, Any]]] = defaultdict(list)
    for e in repository.column_edges_between(session, dataset_ids):
        out_key, in_key = (e.out_dataset_id, e.out_field), (e.in_dataset_id, e.in_field)
        if out_key not in fields or in_key not in fields:
            continue
        edges.add(fid(*in_key), fid(*out_key))
        src = names[e.in_dataset_id]
        kind, description = transformation(e.detail)
        entry: dict[str, Any] = {
            "namespace": src.namespace,
            "dataset": src.name,
            "datasetVersion": version_of(e.in_dataset_id),
            "field": e.in_field,
            "transformationDescription": description,
            "transformationType": kind,
        }
        if isinstance(e.detail.get("transformations"), list):
            entry["transformations"] = e.detail["transformations"]
        if entry not in inputs_of[out_key]:
            inputs_of[out_key].append(entry)
    nodes = []
    for (dataset_id, field), depth in fields.items():
        d = names[dataset_id]
        inputs = inputs_of.get((dataset_id, field), [])
        data = {
            "namespace": d.namespace,
            "dataset": d.name,
            "datasetVersion": version_of(dataset_id),
            "field": field or None,
            "fieldType": types.get(dataset_id, {}).get(field),
            "transformationDescription": inputs[0]["transformationDescription"] if inputs else None,
            "transformationType": inputs[0]["transformationType"] if inputs else None,
            "inputFields": inputs,
            "depth": depth,
        }
        nodes.append(node(fid(dataset_id, field), "DATASET_FIELD", data, edges))
    return nodes
