"""`driftgate dashboard` (the Streamlit app alone) and `driftgate run` (API and dashboard
together, stopped together on Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def dashboard_command(host: str, port: int) -> list[str]:
    """The Streamlit command line; the API URL travels in the environment (dashboard_env)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def dashboard_env(api_url: str, kiosk_token: str | None = None) -> dict[str, str]:
    env = {**os.environ, "DRIFTGATE_DASHBOARD_API_URL": api_url}
    if kiosk_token:
        env["DRIFTGATE_DASHBOARD_TOKEN"] = kiosk_token
    return env


def dashboard(
    api_url: Annotated[
        str, typer.Option(help="Base URL of the driftgate API the dashboard talks to.")
    ] = "http://127.0.0.1:8000",
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the dashboard.")] = 8501,
) -> None:
    """Run the governance dashboard (Streamlit) against an API; sign in with your own token.

    A read-only kiosk takes a token from DRIFTGATE_DASHBOARD_TOKEN instead."""
    typer.echo(f"driftgate dashboard on http://{host}:{port} (API {api_url})")
    command = dashboard_command(host, port)
    raise typer.Exit(subprocess.call(command, env=dashboard_env(api_url)))


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the API answers /ready (fails if the process died or the time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the API was not ready within {timeout:.0f} s")


def first_admin_token() -> str:
    """A fresh admin token for this run, issued the way `driftgate token create` issues it."""
    from cli.context import context
    from core.auth import Role, create_token
    from core.db import unit_of_work

    ctx = context()
    name = f"run-admin-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    with unit_of_work(ctx.sessions) as session:
        return create_token(
            session, ctx.operator, name=name, role=Role.admin, prefix=ctx.settings.token_prefix
        )


def add_demo(api_url: str, token: str) -> None:
    """The dashboard's share of the demo; a failure is reported, not fatal to serving."""
    from cli.context import context
    from cli.dashboard_demo import enrich

    typer.echo("adding to the demo through the API:")
    try:
        enrich(api_url, token, context().settings.data_dir, typer.echo)
    except (RuntimeError, httpx.HTTPError) as exc:
        typer.echo(f"  demo additions stopped: {exc}", err=True)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each child (its own process group), then SIGKILL what outlives 15 s."""
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in processes:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(
    host: Annotated[str, typer.Option(help="Interface for both servers.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API.")] = 8000,
    dashboard_port: Annotated[int, typer.Option(help="Port of the dashboard.")] = 8501,
    issue_token: Annotated[
        bool, typer.Option("--issue-token/--no-issue-token", help="Print a new admin token.")
    ] = True,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo/--no-demo",
            help="Add to `driftgate demo` over the API: a firing SLO, a drifted batch, a "
            "promotion request for a candidate ranker (needs --issue-token).",
        ),
    ] = False,
) -> None:
    """Serve the API (with its monitor runner) and the dashboard together; Ctrl-C stops both."""
    api_url = f"http://{host}:{port}"
    driftgate = [sys.executable, "-m", "cli.main"]
    # Ctrl-C, and a SIGTERM from a process manager, both stop the two servers; SIGINT may have
    # been ignored by whatever started us (a background shell job), so handle it explicitly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    children: list[subprocess.Popen[bytes]] = []
    try:
        api = subprocess.Popen(
            [*driftgate, "serve", "--host", host, "--port", str(port)], start_new_session=True
        )
        children.append(api)
        wait_ready(api_url, api, timeout=180)
        ui = subprocess.Popen(
            dashboard_command(host, dashboard_port),
            env=dashboard_env(api_url),
            start_new_session=True,
        )
        children.append(ui)
        typer.echo(f"\n  API        {api_url}   (docs at {api_url}/docs)")
        typer.echo(f"  dashboard  http://{host}:{dashboard_port}")
        token = first_admin_token() if issue_token else None
        if token and demo:
            add_demo(api_url, token)
        if token:
            typer.echo(f"  admin token (shown once, sign in with it): {token}")
        typer.echo(
            "  a token per person: .venv/bin/driftgate token create --role reviewer --name you"
        )
        typer.echo("  Ctrl-C stops both.\n")
        while all(p.poll() is None for p in children):
            time.sleep(0.5)
        typer.echo("a server stopped; stopping the other", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("\nstopping the API and the dashboard …")
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        stop(children)


def register_dashboard_commands(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
    app.command("run")(run)
