"""One simulation world per test run: the template the runner clones for every seed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from simulations.world import Template, build_template


@pytest.fixture(scope="session")
def sim_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(database_url=None, data_dir=tmp_path_factory.mktemp("sim-data"))


@pytest.fixture(scope="session")
def sim_template(server_url: str, sim_settings: Settings) -> Iterator[Template]:
    """Migrated, fed two days, a small ranker trained and crowned, SLOs and tokens (~20 s)."""
    template = build_template(server_url, Path(sim_settings.data_dir), sim_settings)
    yield template
    template.drop()
