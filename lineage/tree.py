"""Render a lineage graph as a text tree (for `driftgate lineage show`). Pure."""

from __future__ import annotations

from typing import Any


def render_tree(graph: list[dict[str, Any]], root: str, direction: str = "both") -> list[str]:
    """Lines of a tree from `root`: downstream along out-edges, upstream along in-edges.

    A node reached twice is printed once in full; later mentions end with `(see above)`.
    """
    nodes = {n["id"]: n for n in graph}
    if root not in nodes:
        return [f"{root} (not in the graph)"]
    lines = [_label(nodes[root])]
    sections = [("downstream", "outEdges", "destination"), ("upstream", "inEdges", "origin")]
    for name, edges, end in sections:
        if direction not in (name, "both"):
            continue
        children = _children(nodes, root, edges, end)
        if not children:
            continue
        lines.append(f"{name}:")
        seen = {root}
        for i, child in enumerate(children):
            lines += _walk(nodes, child, edges, end, "", i == len(children) - 1, seen)
    return lines


def _children(nodes: dict[str, Any], node_id: str, edges: str, end: str) -> list[str]:
    return sorted({e[end] for e in nodes[node_id][edges] if e[end] in nodes})


def _walk(
    nodes: dict[str, Any],
    node_id: str,
    edges: str,
    end: str,
    prefix: str,
    last: bool,
    seen: set[str],
) -> list[str]:
    branch = "└── " if last else "├── "
    if node_id in seen:
        return [f"{prefix}{branch}{_label(nodes[node_id])} (see above)"]
    seen.add(node_id)
    lines = [f"{prefix}{branch}{_label(nodes[node_id])}"]
    children = _children(nodes, node_id, edges, end)
    inner = prefix + ("    " if last else "│   ")
    for i, child in enumerate(children):
        lines += _walk(nodes, child, edges, end, inner, i == len(children) - 1, seen)
    return lines


def _label(node: dict[str, Any]) -> str:
    data = node.get("data") or {}
    if node["type"] == "JOB" and data.get("latestRun"):
        run = data["latestRun"]
        return f"{node['id']}  [{run['state']}, run {run['id'][:8]}]"
    if node["type"] == "RUN":
        return (
            f"{node['id']}  [{data.get('state')}] {data['job']['namespace']}:{data['job']['name']}"
        )
    if node["type"] == "DATASET" and data.get("currentVersion"):
        return f"{node['id']}  (version {data['currentVersion']})"
    return str(node["id"])
