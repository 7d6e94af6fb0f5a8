"""`driftgate incidents …`: list, show, open, change status, add notes.

Like `driftgate model`, a command acts as the owner of an API token (`--as TOKEN` or
`DRIFTGATE_TOKEN`), looked up exactly as the API does, with the API's roles: reading needs
none, notes a producer or above, opening and status changes a reviewer or admin. Without a
token the local operator (`cli:<user>`, an admin with database access) acts.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer

from cli.acting import fail as _fail
from cli.acting import run_as as _run
from cli.context import context

incidents_app = typer.Typer(
    help="Incidents: list, show (timeline, impact), open, status, notes.", no_args_is_help=True
)

TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="DRIFTGATE_TOKEN",
        show_envvar=True,
        help="Act as the owner of this API token.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON document.")]
NOTE_WRITERS = ("producer", "reviewer", "admin")
RESPONDERS = ("reviewer", "admin")


def _incident_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        _fail(f"{text!r} is not an incident id (a UUID)", 2)
        raise


def _doc(incident: Any) -> dict[str, Any]:
    from incidents.routes import read_of

    return read_of(incident, context().settings.public_url)


def _line(d: dict[str, Any]) -> str:
    return (
        f"{d['id']}  {d['status']:<7} {d['severity']:<8} {d['source']:<15} "
        f"{d['opened_at']:%Y-%m-%d %H:%M}  {d['title']}"
    )


def _echo_json(doc: Any) -> None:
    from core.jsonsafe import jsonsafe

    typer.echo(json.dumps(jsonsafe(doc), indent=2, sort_keys=True))


@incidents_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option(help="active, stable or closed.")] = None,
    severity: Annotated[str | None, typer.Option(help="critical, major or minor.")] = None,
    source: Annotated[str | None, typer.Option(help="alert, bake_guard, …")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Incidents, newest first."""
    from incidents import service

    def work(session: Any, _: Any) -> dict[str, Any]:
        total, rows = service.list_incidents(
            session, status=status, severity=severity, source=source, limit=limit
        )
        return {"total": total, "offset": 0, "items": [_doc(i) for i in rows]}

    page = _run(work, None, ("viewer", "producer", "reviewer", "admin"))
    if as_json:
        _echo_json(page)
        return
    typer.echo(f"{page['total']} incident(s)")
    for d in page["items"]:
        typer.echo(_line(d))


@incidents_app.command("show")
def show(
    incident_id: Annotated[str, typer.Argument(help="Incident id.")],
    as_json: JsonOpt = False,
) -> None:
    """One incident: the record, its timeline and its impact through lineage."""
    from incidents import service
    from incidents.impact import impact

    iid = _incident_id(incident_id)

    def work(session: Any, _: Any) -> dict[str, Any]:
        incident = service.get_incident(session, iid)
        return {
            **_doc(incident),
            "timeline": [
                {"at": e.at, "kind": e.kind, "actor": e.actor, "summary": e.summary}
                for e in service.timeline(session, iid)
            ],
            "impact": impact(session, incident, namespace=context().settings.lineage_namespace),
        }

    doc = _run(work, None, ("viewer", "producer", "reviewer", "admin"))
    if as_json:
        _echo_json(doc)
        return
    typer.echo(_line(doc))
    typer.echo(f"  commander: {doc['commander'] or '—'}   runbook: {doc['runbook_url'] or '—'}")
    typer.echo(f"  datasets: {', '.join(doc['datasets']) or '—'}")
    imp = doc["impact"]
    typer.echo(
        f"  impact: {imp['batches']['count']} batch(es), "
        f"{imp['batches']['rows_quarantined']} rows quarantined, "
        f"{len(imp['model_versions'])} model version(s), "
        f"{imp['predictions_served']} predictions served, "
        f"error budget consumed {imp['error_budget']['consumed']}"
    )
    for e in doc["timeline"]:
        typer.echo(f"  {e['at']:%Y-%m-%d %H:%M:%S}  {e['kind']:<17} {e['actor']}: {e['summary']}")


@incidents_app.command("open")
def open_cmd(
    title: Annotated[str, typer.Option(help="What is wrong, in one line.")],
    severity: Annotated[str, typer.Option(help="critical, major or minor.")],
    dataset: Annotated[
        list[str] | None, typer.Option(help="Affected contract id (repeat for more).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Affected model.")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="Affected model version.")] = None,
    commander: Annotated[str | None, typer.Option(help="Who leads the response.")] = None,
    summary: Annotated[str | None, typer.Option(help="First timeline entry.")] = None,
    token: TokenOpt = None,
) -> None:
    """Open an incident by hand (reviewer or admin)."""
    from incidents import service

    body = {
        "title": title,
        "severity": severity,
        "datasets": dataset or [],
        "model_name": model,
        "model_version": version,
        "commander": commander,
        "summary": summary,
    }
    doc = _run(lambda s, a: _doc(service.open_manual(s, a, body=body)), token, RESPONDERS)
    typer.echo(f"opened incident {doc['id']}")


@incidents_app.command("status")
def status_cmd(
    incident_id: Annotated[str, typer.Argument(help="Incident id.")],
    status: Annotated[str, typer.Argument(help="stable or closed (or active again).")],
    reason: Annotated[str | None, typer.Option(help="Why (audited, on the timeline).")] = None,
    token: TokenOpt = None,
) -> None:
    """Move an incident active → stable → closed (reviewer or admin)."""
    from incidents import service

    iid = _incident_id(incident_id)
    doc = _run(
        lambda s, a: _doc(service.change_status(s, a, iid, status=status, reason=reason)),
        token,
        RESPONDERS,
    )
    typer.echo(f"incident {doc['id']} is {doc['status']}")


@incidents_app.command("note")
def note_cmd(
    incident_id: Annotated[str, typer.Argument(help="Incident id.")],
    text: Annotated[str, typer.Argument(help="The note.")],
    token: TokenOpt = None,
) -> None:
    """Add a note to an incident's timeline (producer, reviewer or admin)."""
    from incidents import service

    iid = _incident_id(incident_id)
    entry = _run(lambda s, a: service.add_note(s, a, iid, note=text).id, token, NOTE_WRITERS)
    typer.echo(f"noted (entry {entry})")
