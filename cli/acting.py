"""Acting as a principal from the CLI: resolve `--as TOKEN` (or the local operator), check the
role, run the work in one transaction, and print a refusal as one line (exit 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from cli.context import context


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def describe(exc: Any) -> str:
    """A domain error as the API words it, naming its field and rule."""
    where = ", ".join(
        x for x in (exc.field and f"field {exc.field}", exc.rule and f"rule {exc.rule}") if x
    )
    return f"{exc.detail} ({where})" if where else exc.detail


def run_as(
    work: Callable[[Any, Any], Any],
    token: str | None,
    roles: tuple[str, ...],
    *,
    need_token: bool = False,
) -> Any:
    """Resolve the actor, run `work(session, actor)` in one transaction, report refusals."""
    from core.auth import authenticate
    from core.db import unit_of_work
    from core.errors import DriftgateError, Refusal

    ctx = context()
    if token is None and need_token:
        fail("this needs --as TOKEN (or DRIFTGATE_TOKEN): a reviewer decides as themselves", 2)
    refusal: Refusal | None = None
    try:
        with unit_of_work(ctx.sessions) as session:
            actor = authenticate(session, token) if token else ctx.operator
            if actor.role.value not in roles:
                fail(f"role {actor.role.value!r} may not do this; needs one of {list(roles)}")
            try:
                result = work(session, actor)
            except Refusal as exc:  # caught inside: its record commits, the step is refused
                refusal = exc
    except DriftgateError as exc:
        fail(describe(exc))
    if refusal is not None:
        fail(describe(refusal.error))
    return result
