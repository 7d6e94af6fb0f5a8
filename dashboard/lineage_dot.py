"""Graphviz DOT from the API's lineage graph (Marquez shape): pure, so it is unit-tested."""

from __future__ import annotations

import json
from typing import Any

SHAPES = {"DATASET": "box", "JOB": "ellipse", "DATASET_FIELD": "note"}


def label(node_id: str) -> str:
    """A short, readable label: the name without the kind and namespace."""
    kind, _, rest = node_id.partition(":")
    _, _, name = rest.partition(":")
    return name or rest or kind


def to_dot(graph: list[dict[str, Any]], centre: str | None = None) -> str:
    """Nodes as boxes (datasets) and ellipses (jobs), edges from `inEdges`/`outEdges`; the
    centre node is filled so the eye finds it."""
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    edges: set[tuple[str, str]] = set()
    for node in graph:
        nid = str(node["id"])
        attrs = {"label": label(nid), "shape": SHAPES.get(str(node.get("type")), "box")}
        if nid == centre:
            attrs |= {"style": "filled", "fillcolor": "#ffe082"}
        rendered = ", ".join(f"{k}={json.dumps(v)}" for k, v in attrs.items())
        lines.append(f"  {json.dumps(nid)} [{rendered}];")
        for edge in [*node.get("inEdges", []), *node.get("outEdges", [])]:
            edges.add((str(edge["origin"]), str(edge["destination"])))
    known = {str(n["id"]) for n in graph}
    for origin, destination in sorted(edges):
        if origin in known and destination in known:
            lines.append(f"  {json.dumps(origin)} -> {json.dumps(destination)};")
    lines.append("}")
    return "\n".join(lines)
