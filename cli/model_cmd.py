"""`driftgate model …`: promotion requests, approvals, promotion, rollback, history, cards.

Separation of duties needs to know who acts, so these commands act as the owner of an API
token: `--as TOKEN` (or `DRIFTGATE_TOKEN`). The token is looked up in the database exactly as
the API does (unknown or revoked: refused), and its name and role are the actor: the same
rules apply as over HTTP. Approving or rejecting always needs a reviewer's (or admin's) own
token, so two approvals from one terminal can never count as two people. The other commands
default to the local operator (`cli:<user>`, an admin with database access) when no token is
given; reads need no token at all.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer

from cli.acting import fail as _fail
from cli.acting import run_as as _run
from cli.context import context

model_app = typer.Typer(
    help="Model promotion: requests, approvals, rollback, history.", no_args_is_help=True
)

TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="DRIFTGATE_TOKEN",
        show_envvar=True,
        help="Act as the owner of this API token (separation of duties).",
    ),
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name (default: settings).")]
PRODUCERS = ("producer", "admin")
REVIEWERS = ("reviewer", "admin")
PROMOTERS = ("producer", "reviewer", "admin")


def _print_request(doc: dict[str, Any]) -> None:
    typer.echo(
        f"request {doc['id']}: {doc['model_name']} v{doc['version']} is {doc['state']} "
        f"({doc['approvals_live']} of {doc['quorum']} approvals; "
        f"expires {doc['expires_at']:%Y-%m-%d %H:%M} UTC)"
    )
    for g in doc["gates"]:
        mark = "BLOCKS " if g["blocking"] else "OVERRIDDEN " if g.get("overridden") else ""
        typer.echo(f"  {mark}{g['name']:<14} {g['status']:<14} {g['summary']}")
    if doc.get("override"):
        o = doc["override"]
        pending = "" if o.get("confirmed", True) else " (awaiting a second admin)"
        confirmed = f", confirmed by {o['confirmed_by']}" if o.get("confirmed_by") else ""
        typer.echo(
            f"  override by {o['by']}{confirmed} of {', '.join(o['gates'])}{pending}: {o['reason']}"
        )
    for a in doc["approvals"]:
        void = f"  (void: {a['void_reason']})" if a["voided_at"] else ""
        typer.echo(f"  {a['decision']:<8} {a['reviewer']}: {a['comment']}{void}")
    if doc.get("bake_state"):
        typer.echo(f"  bake: {doc['bake_state']} until {doc['bake_until']}")


def _request_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        _fail(f"{text!r} is not a request id (a UUID)", 2)
        raise


@model_app.command("request-promotion")
def request_promotion(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(min=1, help="Version to promote.")],
    justification: Annotated[str, typer.Option("--justification", "-j", help="Why.")],
    token: TokenOpt = None,
) -> None:
    """Open a promotion request; the policy's gates run and are printed."""
    from governance.promotions import requests, views

    settings = context().settings
    doc = _run(
        lambda s, a: views.describe(
            s,
            requests.open_request(
                s, a, name=name, version=version, justification=justification, settings=settings
            ),
        ),
        token,
        PRODUCERS,
    )
    _print_request(doc)


def _decide(request_id: str, decision: str, comment: str, token: str | None) -> None:
    from governance.promotions import approvals, views

    rid, settings = _request_id(request_id), context().settings

    def work(session: Any, actor: Any) -> Any:
        approvals.decide(
            session,
            actor,
            request_id=rid,
            decision=decision,  # type: ignore[arg-type]
            comment=comment,
            settings=settings,
        )
        return views.describe_by_id(session, rid)

    _print_request(_run(work, token, REVIEWERS, need_token=True))


@model_app.command("approve")
def approve(
    request_id: Annotated[str, typer.Argument(help="Promotion request id.")],
    comment: Annotated[str, typer.Option("--comment", "-m", help="What you checked.")] = "",
    token: TokenOpt = None,
) -> None:
    """Approve a request as the reviewer who owns --as TOKEN."""
    _decide(request_id, "approve", comment, token)


@model_app.command("reject")
def reject(
    request_id: Annotated[str, typer.Argument(help="Promotion request id.")],
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why not.")] = "",
    token: TokenOpt = None,
) -> None:
    """Reject a request (one rejection closes it) as the reviewer who owns --as TOKEN."""
    _decide(request_id, "reject", comment, token)


@model_app.command("promote")
def promote(
    request_id: Annotated[str, typer.Argument(help="An approved promotion request.")],
    token: TokenOpt = None,
) -> None:
    """Move the champion to an approved request's version (serving swaps within seconds)."""
    from governance.promotions import promotion, views

    rid, settings = _request_id(request_id), context().settings

    def work(session: Any, actor: Any) -> Any:
        return views.describe(
            session, promotion.promote(session, actor, request_id=rid, settings=settings)
        )

    _print_request(_run(work, token, PROMOTERS))


@model_app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help="Model name.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (audited).")],
    from_version: Annotated[
        int | None, typer.Option(min=1, help="Only if this version is still the champion.")
    ] = None,
    token: TokenOpt = None,
) -> None:
    """Restore the previous champion now (reviewer or admin; no quorum)."""
    from governance.promotions import rollback as rollbacks

    if not reason.strip():
        _fail("--reason must not be empty", 2)
    done = _run(
        lambda s, a: rollbacks.rollback(
            s, a, name=name, reason=reason, expected_version=from_version
        ),
        token,
        REVIEWERS,
    )
    typer.echo(
        f"{done.model_name}: champion rolled back v{done.from_version} → v{done.to_version} "
        f"by {done.by}"
    )


@model_app.command("show")
def show(request_id: Annotated[str, typer.Argument(help="Promotion request id.")]) -> None:
    """A request's gates, approvals and bake state."""
    from governance.promotions import views

    rid = _request_id(request_id)
    _print_request(_run(lambda s, a: views.describe_by_id(s, rid), None, (*PROMOTERS, "viewer")))


@model_app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Model name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as JSON.")] = False,
) -> None:
    """The model's timeline from the audit trail."""
    from governance.reports.history import model_history

    entries = _run(lambda s, a: model_history(s, name), None, ("admin",))
    for e in entries:
        if as_json:
            typer.echo(json.dumps({**e, "at": e["at"].isoformat()}, default=str))
        else:
            typer.echo(f"{e['at']:%Y-%m-%d %H:%M:%S}  #{e['seq']:<6} {e['summary']}")


@model_app.command("card")
def model_card(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(min=1, help="Version.")],
) -> None:
    """Print a version's model card (Markdown)."""
    from governance.reports.card import model_card as render

    settings = context().settings
    typer.echo(
        _run(
            lambda s, a: render(s, name=name, version=version, settings=settings), None, ("admin",)
        )
    )


@model_app.command("guard")
def guard() -> None:
    """One bake-guard pass: expire overdue requests, judge baking promotions, roll back breaches.

    Serving statistics (error rate, latency) live in the API process, so from the CLI those
    signals have no data and a bake can only hold, never confirm, on them.
    """
    from governance.bake.runner import run_guard

    ctx = context()
    outcome = run_guard(ctx.sessions, ctx.settings, None)
    typer.echo(
        f"expired {outcome.expired}; rolled back {len(outcome.rolled_back)}; "
        f"confirmed {len(outcome.confirmed)}; holding {len(outcome.holding)}"
    )
    for r in outcome.rolled_back:
        typer.echo(f"  rolled back v{r['from']} → v{r['to']}; incident {r['incident']}")
