"""Marquez node ids: `dataset:NS:NAME[#VERSION]`, `job:NS:NAME`, `run:UUID`,
`datasetField:NS:NAME:FIELD[#VERSION]`.

Pure. Namespaces are often URIs (`postgres://db:5432`), so the `:` between namespace and name
is ambiguous; a node id yields every split and the store picks the one that exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lineage.errors import InvalidNodeId

KINDS = ("dataset", "job", "run", "datasetField")


@dataclass(frozen=True)
class NodeRef:
    kind: str  # dataset, job, run, datasetField
    candidates: tuple[tuple[str, str], ...] = ()
    version: str | None = None
    field: str | None = None
    run_id: uuid.UUID | None = None
    raw: str = ""


def splits(rest: str) -> tuple[tuple[str, str], ...]:
    """Every (namespace, name) split of `rest` at a colon."""
    return tuple(
        (rest[:i], rest[i + 1 :])
        for i, ch in enumerate(rest)
        if ch == ":" and 0 < i < len(rest) - 1
    )


def parse_node_id(node: str, *, field: str = "node") -> NodeRef:
    kind, sep, rest = node.partition(":")
    if not sep or kind not in KINDS or not rest:
        raise InvalidNodeId(
            f"node id {node!r} must look like dataset:NAMESPACE:NAME[#VERSION], "
            "job:NAMESPACE:NAME, run:RUN_ID or datasetField:NAMESPACE:NAME:FIELD",
            field=field,
            rule="node_id",
        )
    if kind == "run":
        try:
            return NodeRef("run", run_id=uuid.UUID(rest), raw=node)
        except ValueError:
            raise InvalidNodeId(
                f"{rest!r} is not a run id (a UUID)", field=field, rule="uuid"
            ) from None
    if kind == "datasetField":
        head, sep, column = rest.rpartition(":")
        if not sep or not column or not splits(head):
            raise InvalidNodeId(
                f"{node!r} must be datasetField:NAMESPACE:NAME:FIELD", field=field, rule="node_id"
            )
        version = None
        if "#" in column:  # datasetField:NS:NAME:FIELD#VERSION, as Marquez writes it
            column, _, version = column.rpartition("#")
        if not column:
            raise InvalidNodeId(
                f"{node!r} must be datasetField:NAMESPACE:NAME:FIELD", field=field, rule="node_id"
            )
        return NodeRef(
            "datasetField", splits(head), version=version or None, field=column, raw=node
        )
    version = None
    if kind == "dataset" and "#" in rest:
        rest, _, version = rest.rpartition("#")
    candidates = splits(rest)
    if not candidates:
        raise InvalidNodeId(
            f"{node!r} needs both a namespace and a name", field=field, rule="node_id"
        )
    return NodeRef(kind, candidates, version=version or None, raw=node)


def dataset_id_str(namespace: str, name: str, version: str | None = None) -> str:
    base = f"dataset:{namespace}:{name}"
    return f"{base}#{version}" if version is not None else base


def job_id_str(namespace: str, name: str) -> str:
    return f"job:{namespace}:{name}"


def run_id_str(run_uuid: uuid.UUID | str) -> str:
    return f"run:{run_uuid}"


def field_id_str(namespace: str, name: str, field: str, version: str | None = None) -> str:
    base = f"datasetField:{namespace}:{name}:{field}"
    return f"{base}#{version}" if version is not None else base
