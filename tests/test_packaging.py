"""A non-editable install works on its own: runbooks ship in the package (what `GET /runbooks`
serves is `incidents/runbook_docs/`, the same files as `docs/runbooks/`), and a wheel built by
`pip`, installed away from the source tree, serves every runbook, migrates a database from
scratch and seeds the demo (its example contract, the ranker's shipped contracts)."""

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

ROOT = Path(__file__).resolve().parents[1]
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


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout built into a wheel and installed into a bare directory (~15 s)."""
    tmp = tmp_path_factory.mktemp("wheel")
    tree = _source_tree(tmp / "tree")
    wheels, target = tmp / "wheels", tmp / "site"
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
    return target


def _bare_env(target: Path, **extra: str) -> dict[str, str]:
    """Only the wheel's copy of driftgate importable (its dependencies from this interpreter)."""
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "HOME": str(target), **extra}


@pytest.mark.slow  # builds and installs a wheel in child processes
def test_a_non_editable_install_serves_every_runbook(installed: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _SERVE_FROM_WHEEL],
        cwd=tmp_path,
        env=_bare_env(installed),
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert Path(out["package"]).is_relative_to(installed), out["package"]
    assert not (installed / "incidents" / "runbook_docs").is_symlink()
    assert out["books"] == {
        name: (DOCS / f"{name}.md").read_text(encoding="utf-8") for name in RUNBOOKS
    }


@pytest.mark.slow
def test_a_non_editable_install_migrates_from_scratch_and_seeds_the_demo(
    installed: Path, tmp_path: Path, server_url: str
) -> None:
    from sqlalchemy import create_engine, text

    from tests.support.databases import create_database, drop_database

    url = create_database(server_url)
    try:
        env = _bare_env(installed, DATABASE_URL=url, DRIFTGATE_DATA_DIR=str(tmp_path / "data"))
        for args in (["migrate"], ["demo", "--no-ranker"]):
            done = subprocess.run(
                [sys.executable, "-m", "cli.main", *args],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        assert "contract impressions: registered" in done.stdout, done.stdout
        engine = create_engine(url)
        with engine.connect() as conn:
            contracts = set(conn.execute(text("SELECT id FROM contracts")).scalars())
            batches = conn.execute(text("SELECT count(*) FROM batches")).scalar_one()
        engine.dispose()
        assert "impressions" in contracts and batches >= 4
    finally:
        drop_database(server_url, url)
