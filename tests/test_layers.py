"""The house rules of docs/architecture.md, checked on every test run.

* Layers: each package imports only the packages below it, and the dashboard none of ours
  (the import-linter contracts in pyproject.toml).
* One owner per table: queries are built only in repository modules, so a table's readers
  go through the functions of the domain that owns it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "core",
    "lineage",
    "contracts",
    "checks",
    "ranker",
    "incidents",
    "monitors",
    "governance",
    "api",
    "cli",
]
# What builds a query: SQLAlchemy's statement constructors and raw SQL text.
QUERY_BUILDERS = {"select", "text", "insert", "update", "delete"}
# Modules that may build queries without being a repository, and why.
ALLOWED = {
    # session plumbing: the connectivity probe (`SELECT 1`) and `fetch_binary`, which runs a
    # repository's statement in PostgreSQL's binary format; neither reads a table of its own
    "core/db.py",
}


def test_the_import_layers_hold() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def _is_repository(path: Path) -> bool:
    return path.stem == "repository" or path.stem.endswith("_repository") or path.stem == "models"


def _query_builders(path: Path) -> list[str]:
    """`name (line)` for each query builder the module imports from SQLAlchemy."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [f"{a.name} (l.{node.lineno})" for a in node.names if a.name in QUERY_BUILDERS]
    return found


def test_queries_are_built_only_in_repositories() -> None:
    offenders = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if _is_repository(path) or rel in ALLOWED:
                continue
            builders = _query_builders(path)
            if builders:
                offenders[rel] = builders
    assert offenders == {}, (
        "build queries in the owning domain's repository module and call its functions: "
        f"{offenders}"
    )


def test_the_query_scan_sees_a_query_builder(tmp_path: Path) -> None:
    """The scan above is not vacuous: a route module that imports `select` is caught."""
    module = tmp_path / "routes.py"
    module.write_text("from sqlalchemy import func, select\nfrom sqlalchemy.orm import Session\n")
    assert _query_builders(module) == ["select (l.1)"]
    assert not _is_repository(module)
