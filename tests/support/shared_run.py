"""What every worker of one test run shares: a run id and a scratch directory.

The controlling process (plain pytest, or the pytest-xdist controller) makes both and hands
them to its workers; when the run ends it drops the run's template databases and removes the
directory. Workers use the directory for file locks and template records.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.templates import RUN, SharedRun, drop_all


def pytest_configure(config: pytest.Config) -> None:
    given: dict[str, Any] = getattr(config, "workerinput", {})
    if "driftgate_run_id" in given:
        run = SharedRun(given["driftgate_run_id"], Path(given["driftgate_run_dir"]))
    else:
        run = SharedRun(uuid.uuid4().hex[:10], Path(tempfile.mkdtemp(prefix="driftgate-run-")))
    config.stash[RUN] = run


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: give each worker the controller's run id and directory."""
    run = node.config.stash[RUN]
    node.workerinput["driftgate_run_id"] = run.run_id
    node.workerinput["driftgate_run_dir"] = str(run.directory)


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or RUN not in config.stash:
        return
    run = config.stash[RUN]
    drop_all(run.directory)
    shutil.rmtree(run.directory, ignore_errors=True)
