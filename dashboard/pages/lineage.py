"""Lineage: where did this come from, and what did it touch?"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import lineage_dot
from dashboard import widgets as w
from dashboard.state import Session


def known_nodes(session: Session) -> list[str]:
    """The contracts' datasets and their accepted outputs, to start from without typing."""
    nodes = []
    for c in w.read(session, "/contracts", limit=100) or []:
        nodes.append(f"dataset:{c['dataset_namespace']}:{c['dataset_name']}")
        nodes.append(f"dataset:{c['dataset_namespace']}:contracts/{c['id']}/accepted")
    return nodes


def pick_node(session: Session) -> tuple[str, str]:
    """A node id, or a batch id (impact only)."""
    nodes = known_nodes(session)
    kind = st.radio("Start from", ["dataset / job / run", "batch"], horizontal=True)
    if kind == "batch":
        return "batch", st.text_input("Batch id", key="lineage_batch").strip()
    typed = st.text_input(
        "Node id (dataset:NAMESPACE:NAME, job:NAMESPACE:NAME, run:RUN_ID)",
        key="lineage_node",
        placeholder=nodes[0] if nodes else "",
    ).strip()
    if typed:
        return "node", typed
    return "node", str(st.selectbox("…or a contract's dataset", nodes)) if nodes else ""


def graph(session: Session, node: str) -> list[str]:
    """Draw the graph around `node`; return the centre dataset's fields."""
    a, b = st.columns(2)
    depth = a.slider("Depth (expand)", 1, 10, 2, key="lineage_depth")
    direction = b.selectbox("Direction", ["both", "upstream", "downstream"], key="lineage_dir")
    doc = w.read(session, "/lineage/graph", node=node, depth=depth, direction=direction)
    if doc is None:
        return []
    if not doc["graph"]:
        st.caption("Nothing recorded around this node.")
        return []
    st.graphviz_chart(lineage_dot.to_dot(doc["graph"], centre=node), width="stretch")
    centre = next((n for n in doc["graph"] if n["id"] == node), None)
    return [f["name"] for f in ((centre or {}).get("data") or {}).get("fields", [])]


def names(items: list[Any]) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, dict):
            ident = item.get("name") or item.get("batch_id") or item.get("id") or item
            out.append(ident if isinstance(ident, str) else str(ident))
        else:
            out.append(str(item))
    return out


def impact(session: Session, **params: Any) -> None:
    st.subheader("Impact (downstream)")
    doc = w.read(session, "/lineage/impact", depth=10, **params)
    if not doc:
        return
    st.markdown(
        f"- Datasets: {', '.join(names(doc['datasets'])) or 'none'}\n"
        f"- Model versions: {', '.join(names(doc['model_versions'])) or 'none'}\n"
        f"- Prediction windows: {len(doc['prediction_windows'])}\n"
        f"- Jobs: {', '.join(names(doc['jobs'])) or 'none'}"
    )


def provenance(session: Session, node: str) -> None:
    st.subheader("Provenance (upstream)")
    doc = w.read(session, "/lineage/provenance", node=node, depth=10)
    if not doc:
        return
    st.markdown(
        f"- Datasets: {', '.join(names(doc['datasets'])) or 'none'}\n"
        f"- Batches: {', '.join(names(doc['batches'])) or 'none'}\n"
        f"- Contract versions: {', '.join(names(doc['contract_versions'])) or 'none'}\n"
        f"- Jobs: {', '.join(names(doc['jobs'])) or 'none'}"
    )


def columns(session: Session, node: str, fields: list[str]) -> None:
    st.subheader("Column lineage")
    if not fields:
        st.caption("This dataset names no fields.")
        return
    field = st.selectbox("Field", fields, key="lineage_field")
    column = "datasetField:" + node.removeprefix("dataset:") + f":{field}"
    doc = w.read(session, "/lineage/columns", node=column, depth=3)
    if doc and doc["graph"]:
        st.graphviz_chart(lineage_dot.to_dot(doc["graph"]), width="stretch")
    elif doc is not None:
        st.caption("No column lineage for this node.")


def main() -> None:
    session = w.require_session()
    st.title("Lineage")
    kind, ident = pick_node(session)
    if not ident:
        st.info("Pick a dataset, job, run or batch.")
        return
    if kind == "batch":
        impact(session, batch=ident)
        return
    fields = graph(session, ident)
    left, right = st.columns(2)
    with left:
        if ident.startswith(("dataset:", "run:")):
            key = "dataset" if ident.startswith("dataset:") else "run"
            value = ident if key == "dataset" else ident.removeprefix("run:")
            impact(session, **{key: value})
    with right:
        provenance(session, ident)
    if ident.startswith("dataset:"):
        columns(session, ident, fields)


main()
