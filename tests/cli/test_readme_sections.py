"""The README's ranker, monitor, governance and lineage sections, walked as a newcomer would.

A second world (tests/support/readme_walk.py's `make_run`; the Quickstart, Incidents,
Runbooks and simulations live in tests/cli/test_readme_walkthrough.py): the Quickstart for
`$AUTH`, then the bash block of `### The ranker` (with the quick look its comments show),
`### Governance`'s bash block (clearing the demo's request) and its numbered steps, the bash
block of `### Monitors`, and `### Lineage`'s inline commands. The numbered steps and Lineage
are prose, so their requests are made here, each checked to be one the README names, and the
claims the prose makes of the answers are asserted.
The `### CLI` synopsis and the `### API` table are checked against the CLI and OpenAPI.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.readme_walk import (
    README,
    Step,
    Walkthrough,
    World,
    inline_commands,
    make_run,
    section_block,
    section_text,
    steps,
)

RANKER = "### The ranker"
MONITORS = "### Monitors: drift, model quality, SLOs and alerts"
GOVERNANCE = "### Governance: promotion, approvals, rollback"
LINEAGE = "### Lineage"
CONTRACTS = "### Contracts"


@pytest.fixture
def served(committed_db: str, tmp_path: Path) -> Iterator[World]:
    with make_run(committed_db, tmp_path, DRIFTGATE_SIMULATION_WORKER="false") as world:
        yield world


@pytest.mark.slow  # `make run`, CLI subprocesses and a training, about 3 minutes
def test_ranker_monitors_governance_and_lineage_sections_work_in_order(served: World) -> None:
    readme = README.read_text()
    walk = served.walk()
    print_drift_right_after_make_run(walk)
    for step in steps(section_block(readme, "## Quickstart")):  # $TOKEN, $AUTH, a batch
        walk.run(step)
    for step in steps(section_block(readme, RANKER)):
        walk.run(step)
    ranked = walk.last_answer("POST", "/rank")
    assert ranked["items"] and ranked["model"]["name"] == "ranker", ranked
    ranker = get(walk, "/models/ranker").json()  # "registers v3" beside the demo's v1 and v2
    assert (ranker["latest_version"], ranker["champion_version"]) == (3, 1), ranker
    walk_governance(walk, section_text(readme, GOVERNANCE))
    for step in steps(section_block(readme, MONITORS)):
        walk.run(step)
    walk_lineage(walk, section_text(readme, LINEAGE))
    print("\n".join(f"{seconds:6.1f} s  {command}" for command, seconds in walk.timings))


def print_drift_right_after_make_run(walk: Walkthrough) -> None:
    """What ### Monitors' first figures describe (printed: they are measured, not asserted)."""
    import json

    import httpx

    headers = acting(walk, "viewer", "drift-probe")
    path = "/monitors/drift?dataset=impressions&window=PT1H"
    drift = httpx.get(f"{walk.base_url}{path}", headers=headers, timeout=60).json()
    reference = {k: drift["reference"].get(k) for k in ("source", "batches", "rows", "reason")}
    print("reference", json.dumps(reference), "pending", json.dumps(drift["reference_pending"]))
    for w in drift["windows"]:
        print(w["kind"], w["start"], w["verdict"], w["rows"], w["reason"])
    alerts = httpx.get(f"{walk.base_url}/alerts?state=firing", headers=headers, timeout=60).json()
    print("firing", [(a["slo_id"], a["severity"]) for a in alerts])


def acting(walk: Walkthrough, role: str, name: str) -> dict[str, str]:
    """A token of a new principal `name` (`driftgate token create`), as request headers."""
    command = f"driftgate token create --role {role} --name {name}"
    token = walk.driftgate(shlex.split(command), Step(command)).stdout.strip().splitlines()[-1]
    return {"Authorization": f"Bearer {token}"}


def named_requests(text: str) -> set[str]:
    """`METHOD /path` as the README writes it, with `{…}` and version numbers generalized."""
    return {re.sub(r"/\d+(?=/|$)", "/{v}", c) for c in inline_commands(text) if c[0].isupper()}


def get(walk: Walkthrough, path: str) -> Any:
    """A read the walk needs to go on (not a README step), as the Quickstart's admin."""
    headers = {"Authorization": f"Bearer {walk.variables['TOKEN']}"}
    return walk.request("GET", f"localhost:8000{path}", Step(f"GET {path}"), headers=headers)


def walk_governance(walk: Walkthrough, text: str) -> None:
    """The demo's request cleared by the section's bash block, then the numbered steps 2-5:
    two reviewers approve, it is promoted, rolled back at once; the history and card."""
    for step in steps(section_block(README.read_text(), GOVERNANCE)):
        walk.run(step)
    flat = " ".join(text.split())
    said = named_requests(text)
    admin = {"Authorization": f"Bearer {walk.variables['TOKEN']}"}

    def call(method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        template = re.sub(r"/\d+(?=/|$)", "/{v}", path)
        template = re.sub(r"/promotion-requests/[^/]+", "/promotion-requests/{id}", template)
        request = f"{method} {template}"
        named = any(r == request or r.startswith(f"{request} ") for r in said)
        assert named, f"the README's Governance names no {method} {template}: {sorted(said)}"
        step = Step(f"{method} {path}")
        return walk.request(method, f"localhost:8000{path}", step, headers=headers, **kw).json()

    # 1. the demo's producer requested the candidate (the section's first request)
    request_id = walk.fill_placeholders("<request id>")
    request = get(walk, f"/promotion-requests/{request_id}").json()
    champion = get(walk, "/models/ranker").json()["champion_version"]
    candidate = request["version"]
    assert candidate > champion, request
    assert "POST /models/ranker/versions/{v}/promotion-requests" in said
    # 2. a quorum of two distinct reviewers ("a quorum of distinct principals (default 2)")
    assert "quorum of distinct principals (default 2)" in flat
    for name in ("ann", "bob"):
        call(
            "POST",
            f"/promotion-requests/{request_id}/approvals",
            acting(walk, "reviewer", name),
            json={"decision": "approve", "comment": "gates and card read"},
        )
    # 3. promote, 4. roll back at once, 5. the story and the card
    promoted = call("POST", f"/promotion-requests/{request_id}/promote", admin)
    assert promoted["state"] == "promoted", promoted
    rolled = call("POST", "/models/ranker/rollback", admin, json={"reason": "a README walk"})
    assert (rolled["from_version"], rolled["to_version"]) == (candidate, champion), rolled
    history = call("GET", "/models/ranker/history", admin)
    assert "rollback" in str(history).lower(), str(history)[:2000]
    card = get(walk, f"/models/ranker/versions/{candidate}/card")
    assert named_requests(f"`GET /models/ranker/versions/{candidate}/card`") <= said
    assert card.text.lstrip().startswith("#"), card.text[:500]


def served_window(walk: Walkthrough) -> str:
    """`<window>`: the served hour of the latest `/rank` answer, as lineage names it."""
    served_at = datetime.fromisoformat(walk.last_answer("POST", "/rank")["served_at"])
    return f"{served_at:%Y-%m-%dT%H}:00:00Z/PT3600S"


def champion_batch(walk: Walkthrough) -> str:
    """`<id>` of `GET /lineage/impact?batch=<id>`: a batch the served champion trained on."""
    model = walk.last_answer("GET", "/models/ranker")
    version = walk.last_answer("GET", f"/models/ranker/versions/{model['champion_version']}")
    return str(version["training_data"][0]["batch_id"])


def walk_lineage(walk: Walkthrough, text: str) -> None:
    """Provenance of a served hour reaches raw batches; a training batch's impact reaches the
    prediction windows; `driftgate lineage show` prints the tree."""
    admin = {"Authorization": f"Bearer {walk.variables['TOKEN']}"}
    model = get(walk, "/models/ranker").json()
    get(walk, f"/models/ranker/versions/{model['champion_version']}")
    walk.placeholders.update({"<window>": served_window, "<id>": champion_batch})
    commands = [c for c in inline_commands(text) if c != "driftgate ranker train"]
    assert len(commands) >= 3, commands
    for command in commands:
        filled = walk.fill_placeholders(command)
        if filled.startswith("GET "):
            walk.request("GET", f"localhost:8000{filled[4:]}", Step(command), headers=admin)
        else:
            walk.run(Step(filled))
    provenance = walk.last_answer("GET", "/lineage/provenance")
    assert provenance["batches"], "the served hour's provenance reaches no raw batch"
    impact = walk.last_answer("GET", "/lineage/impact")
    assert impact["prediction_windows"], "the training batch's impact reaches no served hour"


def test_the_contracts_section_links_what_it_names() -> None:
    text = section_text(README.read_text(), CONTRACTS)
    named = re.findall(r"`(examples/[^`]+)`|\]\(([^)]+)\)", text)
    paths = [a or b for a, b in named]
    assert "examples/impressions.contract.yaml" in paths, paths
    for path in paths:
        assert (README.parent / path).exists(), f"### Contracts names {path}, which is missing"


def synopsis_commands(block: str) -> list[list[str]]:
    """Each command of the `### CLI` synopsis as words: `a b | c` and `approve|reject` are
    alternatives, an alternative without `driftgate` keeps the line's group."""
    out: list[list[str]] = []
    for line in block.splitlines():
        usage = re.split(r"\s{2,}", line.strip())[0]
        if not usage.startswith("driftgate "):
            continue
        group = usage.split()[1]
        for alternative in usage.removeprefix("driftgate ").split(" | "):
            words = alternative.split()
            if words[0] not in TOP_LEVEL:
                words = [group, *words]
            if len(words) > 1 and "|" in words[1]:
                out += [[words[0], head, *words[2:]] for head in words[1].split("|")]
            else:
                out.append(words)
    return out


TOP_LEVEL: set[str] = set()


def test_every_command_and_option_of_the_cli_synopsis_exists() -> None:
    import typer

    from cli.main import app as cli_app

    root: Any = typer.main.get_command(cli_app)
    TOP_LEVEL.update(root.commands)
    block = re.search(r"```text\n(.*?)```", section_text(README.read_text(), "### CLI"), re.S)
    assert block, "### CLI has no synopsis block"
    commands = synopsis_commands(block.group(1))
    assert len(commands) >= 30, commands
    for words in commands:
        cmd, path = root, []
        while hasattr(cmd, "commands") and words and words[0] in cmd.commands:
            path.append(words[0])
            cmd = cmd.commands[words.pop(0)]
        assert not hasattr(cmd, "commands"), f"`driftgate {' '.join(path)} {words}` is a group"
        known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for option in re.findall(r"(?:^|[\s\[])(--[a-z][\w-]*|-[a-z]\b)", " ".join(words)):
            assert option in known, f"`driftgate {' '.join(path)}` has no {option}: {known}"


def api_table_routes(text: str) -> list[tuple[str, str]]:
    """(method, path) of each route the `### API` table's first column names: `[/x[/y]]` as
    each of its lengths, and a span without a method (`/x`, `…/x`) continuing the one before."""
    routes: list[tuple[str, str]] = []
    for row in re.findall(r"^\| (.+?) \| ", text, re.M):
        methods, previous = ["GET"], ""
        for span in re.findall(r"`([^`]+)`", row):
            if span.startswith("?"):  # another query of the route before
                continue
            if re.fullmatch(r"[A-Z]+", span):  # `(or POST …)`: another method of it
                routes.append((span, previous))
                continue
            head, _, rest = span.partition(" ")
            has_method = bool(re.fullmatch(r"[A-Z/]+", head)) and bool(rest)
            if has_method:
                methods, span = head.split("/"), rest
            path = re.sub(r"\[\?.*?\]", "", span).split("?")[0].rstrip("/")
            if path.startswith("…"):
                path = _continued(previous, path[1:])
            elif not has_method and previous:
                path = previous.rsplit("/", 1)[0] + path
            cuts = [i for i, c in enumerate(path) if c == "["] + [len(path)]
            for cut in cuts:
                variant = re.sub(r"[\[\]]", "", path[:cut])
                routes += [(m, variant) for m in methods if variant.startswith("/")]
            previous = re.sub(r"[\[\]]", "", path)
    return routes


def _continued(previous: str, tail: str) -> str:
    """`…/bake/confirm` after `/r/{id}/bake`: `/r/{id}/bake/confirm` (shared segments once)."""
    before, after = previous.split("/"), tail.split("/")[1:]
    for k in range(min(len(before), len(after)), 0, -1):
        if before[-k:] == after[:k]:
            return "/".join(before[:-k] + after)
    return previous + tail


def test_every_route_of_the_api_table_is_served() -> None:
    from api.app import create_app
    from core.settings import Settings

    app = create_app(Settings(database_url=None))
    served = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, item in app.openapi()["paths"].items()
        for method in item
    }
    text = section_text(README.read_text(), "### API")
    routes = api_table_routes(text)
    assert len(routes) >= 60, routes
    missing = sorted(
        f"{m} {p}" for m, p in set(routes) if (m, re.sub(r"\{[^}]+\}", "{}", p)) not in served
    )
    assert not missing, f"### API names routes the app does not serve: {missing}"
