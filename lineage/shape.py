"""The Marquez graph envelope: `{id, type, data, inEdges, outEdges}` per node. Pure."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

Direction = Literal["upstream", "downstream", "both"]
EdgeMap = dict[str, list[dict[str, str]]]


def directions(direction: Direction) -> list[bool]:
    """The walks a direction needs: True walks downstream, False upstream."""
    return {"downstream": [True], "upstream": [False], "both": [True, False]}[direction]


class Edges:
    """In- and out-edges by node id, each edge once."""

    def __init__(self) -> None:
        self.ins: EdgeMap = defaultdict(list)
        self.outs: EdgeMap = defaultdict(list)

    def add(self, origin: str, destination: str) -> None:
        edge = {"origin": origin, "destination": destination}
        if edge not in self.outs[origin]:
            self.outs[origin].append(edge)
            self.ins[destination].append(edge)


def node(node_id: str, kind: str, data: dict[str, Any], edges: Edges) -> dict[str, Any]:
    """One graph node; edges sorted by (origin, destination) as Marquez's sorted sets are."""

    def key(e: dict[str, str]) -> tuple[str, str]:
        return (e["origin"], e["destination"])

    return {
        "id": node_id,
        "type": kind,
        "data": data,
        "inEdges": sorted(edges.ins.get(node_id, []), key=key),
        "outEdges": sorted(edges.outs.get(node_id, []), key=key),
    }


def sorted_graph(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"graph": nodes}` sorted by node id, as Marquez's `Lineage.withSortedNodes`."""
    return {"graph": sorted(nodes, key=lambda n: n["id"])}
