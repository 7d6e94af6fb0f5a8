"""Runs the README's commands the way a newcomer pasting them into bash would.

`make_run` reproduces `make run` through the CLI entry point (migrate, demo, `run --demo` on
free ports) on a fresh database in an empty directory; `Walkthrough` runs the steps of a README bash
block in that world with the variables earlier steps set: `driftgate` commands through the
CLI, `curl` commands through httpx, `a && b` as both in turn. A step fails when it exits
non-zero or answers outside 2xx, unless its comment says which status it answers ("answers
409"); top-level `"key": value` pairs quoted in a step's comments must match its answer.

A long command runs with the reduced parameters its own comment shows the reader ("quick
look: `--days 2`"): those options replace the command's own, so the README says what the
walk runs. A command form this runner does not know fails loudly.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DRIFTGATE = re.compile(r"^(\./)?(\.venv/bin/)?driftgate$")
README_HOSTS = ("localhost:8000", "127.0.0.1:8000")
RUN_DEMO = (sys.executable, "-m", "cli.main", "run", "--demo")  # make run's last command
# Values a step's prose asks the reader to copy from an earlier answer: (method, path regex,
# key) of the latest answer to a matching request, or a function of the walk so far.
Placeholder = tuple[str, str, str] | Callable[["Walkthrough"], str]
PLACEHOLDERS: dict[str, Placeholder] = {
    "<batch id>": ("POST", r"/batches", "id"),
    "<id>": ("POST", r"/incidents", "id"),
    "<incident-id>": ("POST", r"/incidents", "id"),
    "<postmortem id>": ("POST", r"/incidents/[^/]+/postmortem", "id"),
    # the first item of a list or page: `GET /incidents?status=active  # <incident id>: its "id"`
    "<incident id>": ("GET", r"/incidents", "id"),
    "<request id>": ("GET", r"/promotion-requests", "id"),
}
QUOTED_PAIR = re.compile(
    r'"(\w+)":\s*("[^"]*"|-?\d+(?:\.\d+)?|true|false|null|\[(?:\s*"[^"]*",?)*\s*\])'
)
QUICK_LOOK = re.compile(r"quick look: `([^`]+)`")
COMMAND_SPAN = re.compile(
    r"`((?:\.venv/bin/)?driftgate [^`]+|(?:GET|POST|PUT|PATCH|DELETE) /[^`]+)`"
)


@dataclass
class Step:
    """One command of the block, with the comment lines written above and after it."""

    command: str
    comment: str = ""

    @property
    def expected_status(self) -> int | None:
        match = re.search(r"answers (\d{3})\b", self.comment)
        return int(match.group(1)) if match else None

    @property
    def quick_options(self) -> list[str]:
        """The options the comment's "quick look: `…`" puts in place of the command's own."""
        match = QUICK_LOOK.search(self.comment)
        return shlex.split(match.group(1)) if match else []

    def quoted_pairs(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in QUOTED_PAIR.findall(self.comment)}


def section_block(readme: str, heading: str) -> str:
    """The first ```bash block under the heading that starts with `heading`."""
    block = re.search(r"```bash\n(.*?)```", section_text(readme, heading), re.S)
    assert block, f"the `{heading}` section has no bash block"
    return block.group(1)


def section_text(readme: str, heading: str) -> str:
    """The section under the heading that starts with `heading`, up to the next `##`/`###`
    heading (bash comments start with one `#`)."""
    section = re.search(rf"^{re.escape(heading)}.*?(?=^###? |\Z)", readme, re.S | re.M)
    assert section, f"README has no `{heading}` section"
    return section.group(0)


def inline_commands(text: str) -> list[str]:
    """Commands written inline in prose: `driftgate …` and `GET /…` spans, in order."""
    return [" ".join(m.group(1).split()) for m in COMMAND_SPAN.finditer(text)]


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
        command, _, trailing = split_trailing_comment(command)
        out.append(Step(command.strip(), "\n".join([*pending, trailing])))
        pending, under_command = [], True
    return out


def split_and(command: str) -> list[str]:
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


def split_trailing_comment(command: str) -> tuple[str, str, str]:
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


def with_options(words: list[str], options: list[str]) -> list[str]:
    """`words` with each `--name [value]` of `options` in place of its own, or appended."""
    out = list(words)
    i = 0
    while i < len(options):
        name = options[i]
        assert name.startswith("--"), f"a quick look gives options, not {name!r}"
        takes_value = i + 1 < len(options) and not options[i + 1].startswith("--")
        given = options[i : i + 1 + takes_value]
        if name in out:
            at = out.index(name)
            had_value = at + 1 < len(out) and not out[at + 1].startswith("--")
            out[at : at + 1 + had_value] = given
        else:
            out += given
        i += len(given)
    return out


@dataclass
class Walkthrough:
    """Runs steps the way bash would, for the few forms the walked sections use."""

    cwd: Path
    env: dict[str, str]
    base_url: str
    variables: dict[str, str] = field(default_factory=dict)
    answers: list[tuple[str, str, Any]] = field(default_factory=list)  # method, path, JSON
    placeholders: dict[str, Placeholder] = field(default_factory=lambda: dict(PLACEHOLDERS))
    # Commands too long for a test run with no quick look the CLI offers, by their first
    # words: the walk checks they parse (`--help` after the README's own options) instead.
    parse_only: dict[str, str] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)

    def run(self, step: Step) -> None:
        started = time.monotonic()
        command = self.fill_placeholders(step.command)
        for part in split_and(command):  # `a && b`: an assertion on `a` stops before `b`
            if assignment := re.match(r"^([A-Za-z_]\w*)=(.*)$", part):
                self.variables[assignment.group(1)] = self._value(assignment.group(2), step)
            else:
                self._execute(self._words(part), step)
        self.timings.append((step.command, time.monotonic() - started))

    def fill_placeholders(self, command: str) -> str:
        for placeholder, source in self.placeholders.items():
            if placeholder in command:
                command = command.replace(placeholder, self._placeholder(placeholder, source))
        unknown = re.findall(r"<[a-z][a-z -]*>", command)
        assert not unknown, f"the walkthrough cannot fill {unknown} in {command!r}"
        return command

    def _placeholder(self, placeholder: str, source: Placeholder) -> str:
        if callable(source):
            return source(self)
        method, path, key = source
        found = [
            a[key]
            for m, p, answer in self.answers
            if m == method and re.fullmatch(path, p)
            for a in _first_item(answer)
            if isinstance(a, dict) and key in a
        ]
        assert found, f"{placeholder!r}: no earlier answer of {method} {path} has {key!r}"
        return str(found[-1])

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
        output = self.driftgate(first, step).stdout
        for words in filters:
            assert words[0] in ("tail", "head") and words[1] == "-n", f"cannot run {words}"
            lines, n = output.splitlines(), int(words[2])
            output = "\n".join(lines[-n:] if words[0] == "tail" else lines[:n])
        return output.strip()

    def _execute(self, words: list[str], step: Step) -> None:
        if DRIFTGATE.match(words[0]):
            self.driftgate(with_options(words, step.quick_options), step)
        elif words[0] == "curl":
            assert not step.quick_options, f"a quick look is for driftgate commands: {step}"
            self.curl(words[1:], step)
        else:
            raise AssertionError(f"the walkthrough does not know how to run {step.command!r}")

    def driftgate(self, words: list[str], step: Step) -> subprocess.CompletedProcess[str]:
        assert DRIFTGATE.match(words[0]), f"cannot run {words[0]!r} in $(…)"
        args = words[1:]
        if any(" ".join(args).startswith(prefix) for prefix in self.parse_only):
            args = [*args, "--help"]
        proc = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"{step.command!r} exited {proc.returncode}:\n{proc.stderr}"
        return proc

    def curl(self, args: list[str], step: Step) -> None:
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
        self.request(method, url, step, headers=headers, content=body)

    def request(self, method: str, url: str, step: Step, **kwargs: Any) -> httpx.Response:
        """One request to the walk's server (`url` as the README writes it), checked."""
        response = httpx.request(method, self._served(url), timeout=120, **kwargs)
        self._check(step, method, url, response)
        return response

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

    def last_answer(self, method: str, path: str) -> Any:
        """The latest answer to a request whose method and path (a regex) match."""
        found = [a for m, p, a in self.answers if m == method and re.fullmatch(path, p)]
        assert found, f"no earlier answer of {method} {path}"
        return found[-1]


def _first_item(answer: Any) -> list[Any]:
    """The answer itself, or the first item of a list or of a page's `items`."""
    if isinstance(answer, dict) and isinstance(answer.get("items"), list):
        answer = answer["items"]
    return answer[:1] if isinstance(answer, list) else [answer]


def cli(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """`driftgate ARGS` in `cwd`; its stdout, or an assertion with its stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"driftgate {' '.join(args)}:\n{proc.stderr}"
    return proc.stdout


@dataclass
class World:
    """A `make run` in a fresh directory: its API, working directory and environment."""

    base_url: str
    cwd: Path
    env: dict[str, str]

    def walk(self) -> Walkthrough:
        return Walkthrough(cwd=self.cwd, env=self.env, base_url=self.base_url)


@contextmanager
def make_run(
    database_url: str, tmp_path: Path, *demo_options: str, **settings: str
) -> Iterator[World]:
    """`make run` in a fresh directory: `driftgate migrate`, `driftgate demo`, then
    `driftgate run --demo` (the API, the dashboard and the demo's additions) on free ports.

    `demo_options` go to `driftgate demo` (the README's `--no-ranker` way to skip the demo's
    training). `settings` are `DRIFTGATE_*` variables the servers and every CLI step get (the
    caller's own `DRIFTGATE_*` variables are dropped, as a newcomer has none).
    """
    cwd = tmp_path / "clone"
    cwd.mkdir()
    (cwd / "examples").symlink_to(ROOT / "examples")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRIFTGATE_")},
        **settings,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
    }
    cli(["migrate"], cwd, env)
    cli(["demo", *demo_options], cwd, env)
    port, dashboard_port = free_port(), free_port()
    log_path = tmp_path / "run.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [*RUN_DEMO, "--port", str(port), "--dashboard-port", str(dashboard_port)],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while "Ctrl-C stops both." not in log_path.read_text():  # after the demo's additions
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, (
                f"`run --demo` not done in 240 s:\n{log_path.read_text()}"
            )
            time.sleep(0.5)
        assert _ready(base_url), log_path.read_text()
        assert "demo additions stopped" not in log_path.read_text(), log_path.read_text()
        yield World(base_url, cwd, env)
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
