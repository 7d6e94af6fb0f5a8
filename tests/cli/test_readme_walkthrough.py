"""The README's Quickstart and incident steps, pasted in order as a newcomer would.

`make run` is reproduced through the CLI entry point (migrate, `demo --no-ranker`,
`run --demo` on free ports) on a fresh database in an empty directory. The bash blocks of the
Quickstart and then of `### Incidents`, `### Runbooks and postmortems` and `### Incident
simulations` are read from the README and run step by step in that one world, with the
variables the Quickstart set (tests/support/readme_walk.py says how). Only those sections are
read here; the others are walked in tests/cli/test_readme_sections.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.readme_walk import (
    README,
    Walkthrough,
    World,
    make_run,
    section_block,
    split_and,
    steps,
)

pytestmark = pytest.mark.slow  # child processes: the CLI and a served API

# Sections walked after the Quickstart, in order, in the same world.
USING_IT_SECTIONS = (
    "### Incidents",
    "### Runbooks and postmortems",
    "### Incident simulations",
)
# No option of `simulate catalog` shortens it below every scenario of the catalog (about
# 6 minutes a seed here): the walk checks that the README's command parses.
PARSE_ONLY = {"simulate catalog": "every scenario of the catalog, minutes per seed"}


def quickstart_block(readme: str) -> str:
    """The first ```bash block under the `## Quickstart` heading."""
    return section_block(readme, "## Quickstart")


@pytest.fixture
def served(committed_db: str, tmp_path: Path) -> Iterator[World]:
    """`make run` the way the README's Setup skips the demo's ranker (`demo --no-ranker`: these
    sections need none; tests/cli/test_readme_sections.py walks the default); a queued
    simulation waits (no worker plays it here)."""
    no_worker = {"DRIFTGATE_SIMULATION_WORKER": "false"}
    with make_run(committed_db, tmp_path, "--no-ranker", **no_worker) as world:
        yield world


@pytest.mark.slow  # a real server and CLI subprocesses, about 3 minutes
def test_quickstart_steps_work_in_order_on_a_fresh_database(
    served: World,
) -> None:
    base_url = served.base_url
    walk = served.walk()
    walk.parse_only.update(PARSE_ONLY)
    readme = README.read_text()
    block = steps(quickstart_block(readme))
    assert len(block) >= 5, block
    for step in block:
        walk.run(step)
    assert any(path.startswith("/batches") for _, path, _ in walk.answers)

    # Then `## Using it`'s incident, postmortem and simulation steps, with the Quickstart's
    # $AUTH.
    for heading in USING_IT_SECTIONS:
        section = steps(section_block(readme, heading))
        assert len(section) >= 3, (heading, section)
        for step in section:
            walk.run(step)
    requests = {(method, path) for method, path, _ in walk.answers}
    assert ("POST", "/incidents") in requests, requests
    assert any(re.fullmatch(r"/postmortems/[^/]+/markdown", p) for _, p in requests), requests
    queued = walk.last_answer("POST", "/simulations")
    assert queued["status"] == "queued", queued
    report = served.cwd / "docs" / "incidents" / "simulation-null_spike.json"
    assert report.exists(), "`simulate incident` wrote no report where the README says"

    # The interactive docs the Quickstart points at render from this server alone.
    docs = httpx.get(f"{base_url}/docs", timeout=30)
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn." not in docs.text

    # Links the service builds point at the port it is served on, not the default :8000.
    auth = {"Authorization": f"Bearer {walk.variables['TOKEN']}"}
    drift = httpx.get(
        f"{base_url}/monitors/drift",
        params={"dataset": "impressions", "window": "PT1H"},
        headers=auth,
        timeout=60,
    )
    assert drift.status_code == 200, drift.text
    links = [w["batches_url"] for w in drift.json()["windows"]]
    assert links and all(link.startswith(f"{base_url}/batches") for link in links), links


def test_steps_are_read_with_their_comments_and_expected_statuses() -> None:
    block = """
# 1. Make a token (last line of output).
TOKEN=$(driftgate token create --role admin --name a | tail -n 1)

# 2. Register: here this answers 409 (`"field": "id",
#    "rule": "unique"`).
curl -s -X POST localhost:8000/contracts -H "$AUTH" \\
     --data-binary @examples/x.yaml
#   → {"status": "quarantined", "rows_received": 2000}
curl -s localhost:8000/audit/verify -H "$AUTH"     # {"intact": true, ...}
"""
    parsed = steps(block)
    assert [s.command.split()[0] for s in parsed] == ["TOKEN=$(driftgate", "curl", "curl"]
    assert parsed[1].expected_status == 409
    assert parsed[1].command.endswith("--data-binary @examples/x.yaml")
    assert parsed[1].quoted_pairs() == {
        "field": "id",
        "rule": "unique",
        "status": "quarantined",
        "rows_received": 2000,
    }
    assert parsed[2].quoted_pairs() == {"intact": True} and parsed[2].expected_status is None


def test_using_it_sections_are_read_and_and_lists_split() -> None:
    readme = """## Using it

### Incidents

```bash
curl -s localhost:8000/incidents -H "$AUTH"
```

### Runbooks and postmortems

```bash
driftgate postmortem draft <incident-id> && driftgate action-items list
```

## Configuration
"""
    assert section_block(readme, "### Incidents").startswith("curl -s localhost:8000/incidents")
    runbooks = steps(section_block(readme, "### Runbooks and postmortems"))
    assert [s.command for s in runbooks] == [
        "driftgate postmortem draft <incident-id> && driftgate action-items list"
    ]
    assert split_and(runbooks[0].command) == [
        "driftgate postmortem draft <incident-id>",
        "driftgate action-items list",
    ]
    assert split_and("driftgate incidents note 1 'a && b'") == [
        "driftgate incidents note 1 'a && b'"
    ]
    with pytest.raises(AssertionError, match="does not know"):
        split_and("driftgate incidents list; rm -rf var")
    with pytest.raises(AssertionError, match="does not know"):
        split_and("driftgate incidents list || true")


def test_placeholders_come_from_the_matching_request() -> None:
    walk = Walkthrough(cwd=Path("."), env={}, base_url="http://127.0.0.1:1")
    walk.answers += [
        ("POST", "/incidents", {"id": 7}),
        ("GET", "/incidents", {"id": 99}),
        ("POST", "/incidents/7/postmortem", {"id": "pm-3"}),
    ]
    filled = walk.fill_placeholders("x <id> <incident-id> <postmortem id>")
    assert filled == "x 7 7 pm-3"
    with pytest.raises(AssertionError, match="cannot fill"):
        walk.fill_placeholders("x <runbook name>")
    with pytest.raises(AssertionError, match="no earlier answer"):
        walk.fill_placeholders("x <batch id>")
