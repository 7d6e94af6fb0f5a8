"""`driftgate simulate incident` and `driftgate simulate catalog`: rehearse failures on an
isolated copy of a small install and report time to detect, mitigate and resolve.

Registered on `simulate_app` (cli/simulate_cmd.py) when `cli.main` imports this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.simulate_cmd import simulate_app
from incidents.scenarios import MAX_SEEDS, SCENARIO_NAMES

REPORT_DIR = Path("docs/incidents")


def _run(
    names: list[str], seeds: int, jobs: int | None, out: Path, as_json: bool, name: str
) -> None:
    from cli.context import context
    from cli.progress import progress_bar
    from simulations import report
    from simulations.suite import default_jobs, resolve, run_suite

    ctx = context()
    scenarios = resolve(names)
    total = len(scenarios) * seeds

    with progress_bar("simulating", total=total) as advance:
        done = 0

        def progress(scenario: str, seed: int, result: Any) -> None:
            nonlocal done
            if result is None:
                advance(done, f"{scenario} seed {seed}")
                return
            done += 1
            advance(done, f"{scenario} seed {seed} done")
            typer.echo(
                f"  {scenario} seed {seed}: detected={result.detected} "
                f"mttd={_min(result.mttd)} mttr={_min(result.mttr)} min "
                f"lost={result.rows_lost} ({result.wall_seconds} s)"
            )

        doc = run_suite(
            ctx.database_url,
            ctx.settings,
            scenarios,
            seeds,
            jobs=jobs or default_jobs(),
            echo=lambda line: typer.echo(line, err=True),
            progress=progress,
        )
    written = report.write(doc, out, name=name)
    typer.echo(json.dumps(doc["scenarios"], indent=1) if as_json else report.table(doc))
    typer.echo(f"wall time {doc['wall_seconds']} s; report: {', '.join(map(str, written))}")
    if any(row["rows_lost"] for row in doc["scenarios"]):
        raise typer.Exit(1)


def _min(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.0f}"


Seeds = Annotated[int, typer.Option(min=1, max=MAX_SEEDS, help="Seeds per scenario.")]
Out = Annotated[Path, typer.Option(help="Directory of the report (Markdown, PNG, JSON).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
Jobs = Annotated[
    int | None,
    typer.Option(
        min=1, max=16, help="Seed runs at once, each in its own process (default: cores)."
    ),
]


@simulate_app.command("incident")
def incident(
    scenario: Annotated[str, typer.Option(help=f"One of: {', '.join(SCENARIO_NAMES)}.")],
    seeds: Seeds = 3,
    jobs: Jobs = None,
    out: Out = REPORT_DIR,
    as_json: AsJson = False,
) -> None:
    """Play one scenario over several seeds on an isolated database; print its distributions."""
    if scenario not in SCENARIO_NAMES:
        typer.echo(
            f"error: unknown scenario {scenario!r}; known: {', '.join(SCENARIO_NAMES)}", err=True
        )
        raise typer.Exit(2)
    _run([scenario], seeds, jobs, out, as_json, name=f"simulation-{scenario}")


@simulate_app.command("catalog")
def catalog(
    seeds: Seeds = 5, jobs: Jobs = None, out: Out = REPORT_DIR, as_json: AsJson = False
) -> None:
    """Play every scenario of the catalog over several seeds; print the table, write the report."""
    _run(["catalog"], seeds, jobs, out, as_json, name="simulations")
