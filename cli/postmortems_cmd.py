"""`driftgate postmortem` and `driftgate action-items`: draft, read, file and export
postmortems, and follow their action items, in-process against the database.

Acting commands take `--as TOKEN` (or `DRIFTGATE_TOKEN`) to act as that token's owner with its
role, as `driftgate model` does; without one the local operator (an admin) acts.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.acting import fail as _fail
from cli.acting import run_as as _run

postmortem_app = typer.Typer(
    help="Postmortems: draft from an incident, show, submit, publish, export.",
    no_args_is_help=True,
)
action_items_app = typer.Typer(help="Postmortem action items.", no_args_is_help=True)

TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="DRIFTGATE_TOKEN",
        show_envvar=True,
        help="Act as the owner of this API token (its role decides what it may do).",
    ),
]
WRITERS = ("producer", "reviewer", "admin")
REVIEWERS = ("reviewer", "admin")
STATUSES = ("open", "in_progress", "done", "wont_do")


def _uuid(text: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        _fail(f"{what} must be a UUID, got {text!r}", 2)
        raise  # unreachable: _fail exits


def _doc(session: Any, pm: Any) -> dict[str, Any]:
    from incidents.postmortems import records
    from incidents.postmortems.schemas import PostmortemRead

    read = PostmortemRead.model_validate(records.describe(session, pm))
    doc: dict[str, Any] = read.model_dump(mode="json")
    return doc


def _print(doc: dict[str, Any]) -> None:
    m = doc["metrics"]
    typer.echo(
        f"postmortem {doc['id']} (incident {doc['incident_id']}, revision {doc['revision']}): "
        f"{doc['status']}"
    )
    for key in (
        "time_to_detect_seconds",
        "time_to_mitigate_seconds",
        "time_to_resolve_seconds",
        "rows_posted",
        "rows_accepted",
        "rows_quarantined",
        "rows_lost",
        "predictions_affected",
        "error_budget_consumed",
    ):
        typer.echo(f"  {key:<26} {m.get(key)}")
    for item in doc["action_items"]:
        typer.echo(f"  [{item['priority']}] {item['status']:<11} {item['owner']}: {item['title']}")


@postmortem_app.command("draft")
def draft(
    incident_id: Annotated[str, typer.Argument(help="Incident id.")],
    token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole record.")] = False,
) -> None:
    """Draft an incident's postmortem: timeline, times, rows, predictions, budget."""
    from cli.context import context
    from incidents.postmortems import service

    iid = _uuid(incident_id, "incident id")
    namespace = context().settings.lineage_namespace
    doc = _run(
        lambda s, a: _doc(s, service.draft_postmortem(s, a, iid, namespace=namespace)),
        token,
        WRITERS,
    )
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        _print(doc)


@postmortem_app.command("show")
def show(
    postmortem_id: Annotated[str, typer.Argument(help="Postmortem id, or an incident id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole record.")] = False,
) -> None:
    """Show a postmortem revision (or an incident's newest one) with its figures."""
    from incidents.postmortems import records, repository

    pid = _uuid(postmortem_id, "postmortem id")

    def read(session: Any, _: Any) -> dict[str, Any]:
        if repository.get_postmortem(session, pid) is None:
            return _doc(session, records.latest_for_incident(session, pid))
        return _doc(session, records.get_postmortem(session, pid))

    doc = _run(read, None, WRITERS)
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        _print(doc)


@postmortem_app.command("submit")
def submit(
    postmortem_id: Annotated[str, typer.Argument(help="Postmortem id.")], token: TokenOpt = None
) -> None:
    """Send a draft for review."""
    from incidents.postmortems import service

    pid = _uuid(postmortem_id, "postmortem id")
    doc = _run(lambda s, a: _doc(s, service.submit(s, a, pid)), token, WRITERS)
    typer.echo(f"postmortem {doc['id']} is {doc['status']}")


@postmortem_app.command("publish")
def publish(
    postmortem_id: Annotated[str, typer.Argument(help="Postmortem id.")], token: TokenOpt = None
) -> None:
    """Publish a revision in review (reviewer or admin); it never changes afterwards."""
    from incidents.postmortems import service

    pid = _uuid(postmortem_id, "postmortem id")
    doc = _run(lambda s, a: _doc(s, service.publish(s, a, pid)), token, REVIEWERS)
    typer.echo(f"postmortem {doc['id']} is {doc['status']} (by {doc['published_by']})")


@postmortem_app.command("markdown")
def markdown(
    postmortem_id: Annotated[str, typer.Argument(help="Postmortem id.")],
    out: Annotated[
        Path | None, typer.Option("--out", dir_okay=False, help="Write to this file.")
    ] = None,
) -> None:
    """Export a postmortem revision as Markdown (stdout, or --out FILE)."""
    from cli.context import context
    from incidents.postmortems import markdown as render
    from incidents.postmortems import records

    pid = _uuid(postmortem_id, "postmortem id")
    base = f"{context().settings.public_url.rstrip('/')}/runbooks"
    doc = _run(lambda s, a: _doc(s, records.get_postmortem(s, pid)), None, WRITERS)
    text = render.render(doc, runbook_base=base)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@action_items_app.command("list")
def list_items(
    status: Annotated[
        str | None, typer.Option("--status", help="open, in_progress, done or wont_do.")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
) -> None:
    """Action items across postmortems: open ones first, then by priority and due date."""
    from incidents.postmortems import action_items

    if status is not None and status not in STATUSES:
        _fail(f"--status must be one of {', '.join(STATUSES)}", 2)
    page = _run(
        lambda s, _: action_items.list_action_items(
            s, status=status, owner=owner, limit=limit, offset=0
        ),
        None,
        WRITERS,
    )
    for i in page["items"]:
        due = i["due"].isoformat() if i["due"] else "-"
        typer.echo(
            f"{i['id']}  {i['priority']}  {i['status']:<11} due {due:<10}  {i['owner']}: "
            f"{i['title']}  ({i['postmortem_title']})"
        )
    typer.echo(f"{len(page['items'])} of {page['total']} items")


@action_items_app.command("set-status")
def set_status(
    item_id: Annotated[str, typer.Argument(help="Action item id.")],
    status: Annotated[str, typer.Argument(help="open, in_progress, done or wont_do.")],
    token: TokenOpt = None,
) -> None:
    """Change an action item's status (also after its postmortem is published)."""
    from incidents.postmortems import action_items

    if status not in STATUSES:
        _fail(f"status must be one of {', '.join(STATUSES)}", 2)
    iid = _uuid(item_id, "action item id")
    _run(lambda s, a: action_items.update_action_item(s, a, iid, status=status), token, WRITERS)
    typer.echo(f"action item {iid} is {status}")
