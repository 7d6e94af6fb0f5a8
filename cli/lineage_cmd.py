"""`driftgate lineage`: look at the lineage graph from the terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer

lineage_app = typer.Typer(help="OpenLineage lineage graph.", no_args_is_help=True)


@lineage_app.command("show")
def show(
    node: Annotated[
        str,
        typer.Argument(
            help="dataset:NS:NAME[#VERSION], job:NS:NAME, run:RUN_ID or datasetField:NS:NAME:FIELD."
        ),
    ],
    depth: Annotated[int, typer.Option(min=0, max=100, help="How many jobs to walk.")] = 5,
    direction: Annotated[str, typer.Option(help="upstream, downstream or both.")] = "both",
) -> None:
    """Print the lineage around NODE as a tree (downstream and upstream)."""
    from cli.context import context
    from core.db import unit_of_work
    from core.errors import DriftgateError
    from lineage.graph import lineage_graph
    from lineage.nodes import parse_node_id
    from lineage.tree import render_tree

    if direction not in ("upstream", "downstream", "both"):
        typer.echo("error: --direction must be upstream, downstream or both", err=True)
        raise typer.Exit(2)
    ctx = context()
    try:
        with unit_of_work(ctx.sessions) as session:
            result = lineage_graph(
                session,
                node=node,
                depth=depth,
                direction=direction,  # type: ignore[arg-type]
            )
            root = _root_id(result["graph"], parse_node_id(node))
    except DriftgateError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    for line in render_tree(result["graph"], root, direction):
        typer.echo(line)


def _root_id(graph: list[dict[str, Any]], ref: object) -> str:
    """The node id the store resolved NODE to (namespaces with ':' parse several ways)."""
    from lineage.nodes import NodeRef, dataset_id_str, field_id_str, job_id_str, run_id_str

    assert isinstance(ref, NodeRef)
    if ref.kind == "run":
        return run_id_str(ref.run_id)  # type: ignore[arg-type]
    ids = {n["id"] for n in graph}
    for ns, name in ref.candidates:
        for candidate in (
            dataset_id_str(ns, name, ref.version),
            dataset_id_str(ns, name),
            job_id_str(ns, name),
            field_id_str(ns, name, ref.field or ""),
        ):
            if candidate in ids:
                return candidate
    return ref.raw
