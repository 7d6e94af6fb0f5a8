"""The README's Quickstart and incident steps, pasted in order as a newcomer would.

`make run` is reproduced through the CLI entry point (migrate, demo, serve on a free port) on
a fresh database in an empty directory. The bash blocks of the Quickstart and then of
`### Incidents` and `### Runbooks and postmortems` are read from the README and run step by
step in that one world, with the variables the Quickstart set: `driftgate` commands through
the CLI, `curl` commands through httpx, `a && b` as both in turn. A step fails the test when
it exits non-zero or answers outside 2xx, unless its comment says which status it answers
("answers 409"); top-level `"key": value` pairs quoted in a step's comments must match its
answer. Only those sections are read, so other sections can change freely; a command form
this runner does not know fails loudly.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.servers import free_port

pytestmark = pytest.mark.slow  # child processes: the CLI and a served API

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DRIFTGATE = re.compile(r"^(\./)?(\.venv/bin/)?driftgate$")
README_HOSTS = ("localhost:8000", "127.0.0.1:8000")
# Sections walked after the Quickstart, in order, in the same world.
USING_IT_SECTIONS = ("### Incidents", "### Runbooks and postmortems")
# Values a step's prose asks the reader to copy from an earlier answer: the key of the
# latest answer to a request whose method and path match.
PLACEHOLDERS = {
    "<batch id>": ("POST", r"/batches", "id"),
    "<id>": ("POST", r"/incidents", "id"),
    "<incident-id>": ("POST", r"/incidents", "id"),
    "<postmortem id>": ("POST", r"/incidents/[^/]+/postmortem", "id"),
}
QUOTED_PAIR = re.compile(r'"(\w+)":\s*("[^"]*"|-?\d+(?:\.\d+)?|true|false|null)')


@dataclass
class Step:
    """One command of the block, with the comment lines written above and after it."""

    command: str
    comment: str = ""

    @property
    def expected_status(self) -> int | None:
        match = re.search(r"answers (\d{3})\b", self.comment)
        return int(match.group(1)) if match else None

    def quoted_pairs(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in QUOTED_PAIR.findall(self.comment)}


def quickstart_block(readme: str) -> str:
    """The first ```bash block under the `## Quickstart` heading."""
    return section_block(readme, "## Quickstart")


def section_block(readme: str, heading: str) -> str:
    """The first ```bash block under the heading that starts with `heading`.

    The section ends at the next `##` or `###` heading (bash comments start with one `#`).
    """
    section = re.search(rf"^{re.escape(heading)}.*?(?=^###? |\Z)", readme, re.S | re.M)
    assert section, f"README has no `{heading}` section"
    block = re.search(r"```bash\n(.*?)```", section.group(0), re.S)
    assert block, f"the `{heading}` section has no bash block"
    return block.group(1)


def steps(block: str) -> list[Step]:
    """Commands in order (continuation lines joined), each with its comments.

    Comment lines before a command belong to it; comment lines right under a command (its
    answer, `#   → {…}`) and a trailing `# …` belong to that command, until a blank line or
    the next numbered step (`# 4. …`).
    """
    out: list[Step] = []
    pending: list[str] = []
    under_command = False
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            pending, under_command = [], False
            continue
        if line.startswith("#"):
            if under_command and not re.match(r"#\s*\d+\.", line):
                out[-1].comment += "\n" + line
            else:
                pending.append(line)
                under_command = False
            continue
        command = line
        while command.endswith("\\"):
            command = command[:-1] + " " + lines[i].strip()
            i += 1
        command, _, trailing = _split_trailing_comment(command)
        out.append(Step(command.strip(), "\n".join([*pending, trailing])))
        pending, under_command = [], True
    return out


def _split_and(command: str) -> list[str]:
    """`a && b` → [`a`, `b`], ignoring `&&` inside quotes; other operators fail loudly."""
    parts, quote, start, pos = [], "", 0, 0
    while pos < len(command):
        char = command[pos]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif command.startswith("&&", pos):
            parts.append(command[start:pos].strip())
            start = pos = pos + 2
            continue
        elif char in ";&" or command.startswith("||", pos):
            raise AssertionError(f"the walkthrough does not know {char!r} in {command!r}")
        pos += 1
    parts.append(command[start:].strip())
    assert all(parts), f"empty command around `&&` in {command!r}"
    return parts


def _split_trailing_comment(command: str) -> tuple[str, str, str]:
    """`cmd  # note` → (`cmd`, `#`, `note`), ignoring `#` inside quotes."""
    quote = ""
    for pos, char in enumerate(command):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (pos == 0 or command[pos - 1].isspace()):
            return command[:pos], "#", command[pos + 1 :]
    return command, "", ""


@dataclass
class Walkthrough:
    """Runs steps the way bash would, for the few forms the walked sections use."""

    cwd: Path
    env: dict[str, str]
    base_url: str
    variables: dict[str, str] = field(default_factory=dict)
    answers: list[tuple[str, str, Any]] = field(default_factory=list)  # method, path, JSON

    def run(self, step: Step) -> None:
        command = self._fill_placeholders(step.command)
        for part in _split_and(command):  # `a && b`: an assertion on `a` stops before `b`
            if assignment := re.match(r"^([A-Za-z_]\w*)=(.*)$", part):
                self.variables[assignment.group(1)] = self._value(assignment.group(2), step)
            else:
                self._execute(self._words(part), step)

    def _fill_placeholders(self, command: str) -> str:
        for placeholder, (method, path, key) in PLACEHOLDERS.items():
            if placeholder in command:
                found = [
                    a[key]
                    for m, p, a in self.answers
                    if m == method and re.fullmatch(path, p) and isinstance(a, dict) and key in a
                ]
                assert found, f"{placeholder!r}: no earlier answer of {method} {path} has {key!r}"
                command = command.replace(placeholder, str(found[-1]))
        unknown = re.findall(r"<[a-z][a-z -]*>", command)
        assert not unknown, f"the walkthrough cannot fill {unknown} in {command!r}"
        return command

    def _expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            assert name in self.variables, f"${name} is not set by an earlier step"
            return self.variables[name]

        return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)

    def _words(self, command: str) -> list[str]:
        return shlex.split(self._expand(command))

    def _value(self, raw: str, step: Step) -> str:
        if raw.startswith("$(") and raw.endswith(")"):
            return self._capture(raw[2:-1], step)
        words = self._words(raw)
        assert len(words) == 1, f"cannot assign {raw!r}"
        return words[0]

    def _capture(self, pipeline: str, step: Step) -> str:
        """`$(driftgate … | tail -n N)`: the CLI's stdout through head/tail filters."""
        first, *filters = [self._words(part) for part in pipeline.split("|")]
        output = self._driftgate(first, step).stdout
        for words in filters:
            assert words[0] in ("tail", "head") and words[1] == "-n", f"cannot run {words}"
            lines, n = output.splitlines(), int(words[2])
            output = "\n".join(lines[-n:] if words[0] == "tail" else lines[:n])
        return output.strip()

    def _execute(self, words: list[str], step: Step) -> None:
        if DRIFTGATE.match(words[0]):
            self._driftgate(words, step)
        elif words[0] == "curl":
            self._curl(words[1:], step)
        else:
            raise AssertionError(f"the walkthrough does not know how to run {step.command!r}")

    def _driftgate(self, words: list[str], step: Step) -> subprocess.CompletedProcess[str]:
        assert DRIFTGATE.match(words[0]), f"cannot run {words[0]!r} in $(…)"
        proc = subprocess.run(
            [sys.executable, "-m", "cli.main", *words[1:]],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"{step.command!r} exited {proc.returncode}:\n{proc.stderr}"
        return proc

    def _curl(self, args: list[str], step: Step) -> None:
        method, headers, body, url = None, {}, None, None
        it = iter(args)
        for arg in it:
            if arg in ("-s", "--silent", "-S", "--show-error"):
                continue
            if arg in ("-X", "--request"):
                method = next(it)
            elif arg in ("-H", "--header"):
                name, _, value = next(it).partition(":")
                headers[name.strip()] = value.strip()
            elif arg in ("-d", "--data", "--data-raw", "--data-binary"):
                data = next(it)
                body = (self.cwd / data[1:]).read_bytes() if data.startswith("@") else data
            elif arg.startswith("-"):
                raise AssertionError(f"the walkthrough does not know curl's {arg} ({step.command})")
            else:
                url = arg
        assert url, f"no URL in {step.command!r}"
        if body is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        method = method or ("POST" if body is not None else "GET")
        response = httpx.request(
            method,
            self._served(url),
            headers=headers,
            content=body,
            timeout=120,
        )
        self._check(step, method, url, response)

    def _served(self, url: str) -> str:
        full = url if "://" in url else f"http://{url}"
        parts = urlsplit(full)
        assert parts.netloc in README_HOSTS, f"{url!r} is not the README's local server"
        return self.base_url + full[len(f"{parts.scheme}://{parts.netloc}") :]

    def _check(self, step: Step, method: str, url: str, response: httpx.Response) -> None:
        expected = step.expected_status
        ok = response.status_code == expected if expected else response.is_success
        assert ok, (
            f"{step.command!r} answered {response.status_code}"
            + (f" (README: {expected})" if expected else "")
            + f":\n{response.text[:2000]}"
        )
        answer = response.json() if "json" in response.headers.get("content-type", "") else None
        self.answers.append((method.upper(), urlsplit(self._served(url)).path, answer))
        if isinstance(answer, dict):
            quoted = {k: v for k, v in step.quoted_pairs().items() if k in answer}
            actual = {k: answer[k] for k in quoted}
            assert actual == quoted, f"{step.command!r}: README says {quoted}, got {actual}"


def _cli(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"driftgate {' '.join(args)}:\n{proc.stderr}"


@pytest.fixture
def served(committed_db: str, tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """`make run` in a fresh directory: migrate, seed the demo, serve on a free port."""
    cwd = tmp_path / "clone"
    cwd.mkdir()
    (cwd / "examples").symlink_to(ROOT / "examples")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")},
        "DATABASE_URL": committed_db,
        "PYTHONPATH": str(ROOT),
    }
    _cli(["migrate"], cwd, env)
    _cli(["demo"], cwd, env)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--no-migrate"],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _ready(base_url):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the API did not become ready in 120 s"
            time.sleep(0.5)
        yield base_url, cwd, env
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C, as after `make run`
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow  # a real server and CLI subprocesses, about 3 minutes
def test_quickstart_steps_work_in_order_on_a_fresh_database(
    served: tuple[str, Path, dict[str, str]],
) -> None:
    base_url, cwd, env = served
    walk = Walkthrough(cwd=cwd, env=env, base_url=base_url)
    readme = README.read_text()
    block = steps(quickstart_block(readme))
    assert len(block) >= 5, block
    for step in block:
        walk.run(step)
    assert any(path.startswith("/batches") for _, path, _ in walk.answers)

    # Then `## Using it`'s incident and postmortem steps, with the Quickstart's $AUTH.
    for heading in USING_IT_SECTIONS:
        section = steps(section_block(readme, heading))
        assert len(section) >= 4, (heading, section)
        for step in section:
            walk.run(step)
    requests = {(method, path) for method, path, _ in walk.answers}
    assert ("POST", "/incidents") in requests, requests
    assert any(re.fullmatch(r"/postmortems/[^/]+/markdown", p) for _, p in requests), requests

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
    assert _split_and(runbooks[0].command) == [
        "driftgate postmortem draft <incident-id>",
        "driftgate action-items list",
    ]
    assert _split_and("driftgate incidents note 1 'a && b'") == [
        "driftgate incidents note 1 'a && b'"
    ]
    with pytest.raises(AssertionError, match="does not know"):
        _split_and("driftgate incidents list; rm -rf var")
    with pytest.raises(AssertionError, match="does not know"):
        _split_and("driftgate incidents list || true")


def test_placeholders_come_from_the_matching_request() -> None:
    walk = Walkthrough(cwd=Path("."), env={}, base_url="http://127.0.0.1:1")
    walk.answers += [
        ("POST", "/incidents", {"id": 7}),
        ("GET", "/incidents", {"id": 99}),
        ("POST", "/incidents/7/postmortem", {"id": "pm-3"}),
    ]
    filled = walk._fill_placeholders("x <id> <incident-id> <postmortem id>")
    assert filled == "x 7 7 pm-3"
    with pytest.raises(AssertionError, match="cannot fill"):
        walk._fill_placeholders("x <runbook name>")
    with pytest.raises(AssertionError, match="no earlier answer"):
        walk._fill_placeholders("x <batch id>")
