"""Runbooks ship in the package: what `GET /runbooks` serves is `incidents/runbook_docs/`, the
same files as `docs/runbooks/`, and a wheel built by `pip` (a non-editable install) has them."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from incidents.runbooks import RUNBOOKS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "runbooks"
Auth = Callable[[str], dict[str, str]]


def test_the_served_runbooks_are_the_package_resources_and_the_docs(
    client: TestClient, auth: Auth
) -> None:
    packaged = resources.files("incidents") / "runbook_docs"
    assert {p.name for p in packaged.iterdir()} == {p.name for p in DOCS.glob("*.md")}
    for name in RUNBOOKS:
        served = client.get(f"/runbooks/{name}", headers=auth("viewer"))
        assert served.status_code == 200, served.text
        text = (packaged / f"{name}.md").read_text(encoding="utf-8")
        assert served.text == text == (DOCS / f"{name}.md").read_text(encoding="utf-8")


# In a fresh directory, with only the wheel's copy of `incidents` importable: every runbook
# through the route function, against the docs' copy.
_SERVE_FROM_WHEEL = """
import json, sys
import incidents
from incidents import runbook_routes, runbooks
out = {"package": incidents.__file__, "books": {}}
for name in runbooks.RUNBOOKS:
    out["books"][name] = runbook_routes.get_runbook(name, None).body.decode()
json.dump(out, sys.stdout)
"""


def _source_tree(to: Path) -> Path:
    """The checkout's files (tracked and new, not ignored) copied to `to`, links kept."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    archive = to.with_suffix(".tar")
    with tarfile.open(archive, "w") as tar:
        for name in filter(None, listed):
            path = ROOT / name.decode()
            if path.exists() or path.is_symlink():
                tar.add(path, arcname=name.decode(), recursive=False)
    with tarfile.open(archive) as tar:
        tar.extractall(to, filter="tar")
    return to


@pytest.mark.slow  # builds and installs a wheel in child processes (~15 s)
def test_a_non_editable_install_serves_every_runbook(tmp_path: Path) -> None:
    tree = _source_tree(tmp_path / "tree")
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", str(tree), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("driftgate-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-compile", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    run = subprocess.run(
        [sys.executable, "-c", _SERVE_FROM_WHEEL],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert Path(out["package"]).is_relative_to(target), out["package"]
    assert not (target / "incidents" / "runbook_docs").is_symlink()
    assert out["books"] == {
        name: (DOCS / f"{name}.md").read_text(encoding="utf-8") for name in RUNBOOKS
    }
