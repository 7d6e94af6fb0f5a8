"""Seed runs in parallel child processes: each run owns its clone and data directory, and the
results come back complete and in catalog order whatever order the children finish in."""

from __future__ import annotations

import os

import pytest

from core.settings import Settings
from ranker import artifact
from simulations.catalog import SCENARIOS
from simulations.suite import _play_all
from simulations.world import Template, run_data_dir

SHORT = {"baseline_hours": 1, "duration_hours": 1, "recovery_hours": 1}


def test_a_run_data_dir_links_the_template_files_and_shares_its_models(
    sim_template: Template,
) -> None:
    with run_data_dir(sim_template) as first, run_data_dir(sim_template) as second:
        assert first != second
        assert (first / "models").resolve() == (sim_template.data_dir / "models").resolve()
        # the cloned registry names the champion by its path under the template's models
        champion = next((sim_template.data_dir / "models").rglob("*.pt"))
        assert artifact.path_of(champion.as_uri(), first) == champion.resolve()
        copied = [p for p in first.rglob("*") if p.is_file() and "models" not in p.parts]
        for path in copied:  # hard links: the same inode, no bytes copied
            original = sim_template.data_dir / path.relative_to(first)
            assert os.stat(path).st_ino == os.stat(original).st_ino
        # what one run writes outside models/ the other never sees
        (first / "incoming").mkdir(exist_ok=True)
        (first / "incoming" / "spooled.parquet").write_bytes(b"x")
        assert not (second / "incoming" / "spooled.parquet").exists()
    assert not first.exists() and not second.exists()
    assert (sim_template.data_dir / "models").is_dir()


@pytest.mark.slow
def test_two_jobs_play_every_seed_in_its_own_process_and_lose_nothing(
    sim_template: Template, sim_settings: Settings
) -> None:
    plays = [
        (SCENARIOS["unit_change"].with_params(SHORT), 0),
        (SCENARIOS["unit_change"].with_params(SHORT), 1),
        (SCENARIOS["duplicate_replay"].with_params(SHORT), 0),
    ]
    seen: list[tuple[str, int, bool]] = []

    def progress(name: str, seed: int, result: object) -> None:
        seen.append((name, seed, result is not None))

    out = {
        (s.name, seed): r
        for (s, seed), r in _play_all(sim_template, plays, sim_settings, 2, progress)
    }
    assert set(out) == {(s.name, seed) for s, seed in plays}
    for (name, seed), result in out.items():
        assert (result.scenario, result.seed) == (name, seed)
        assert not any(n.startswith("run failed") for n in result.notes), result.notes
        assert result.rows_posted > 0 and result.rows_lost == 0
    assert out[("unit_change", 0)].detected and out[("unit_change", 1)].detected
    # every run was announced before it finished, and finished once
    assert sorted(x for x in seen if not x[2]) == sorted((s.name, n, False) for s, n in plays)
    assert sorted(x for x in seen if x[2]) == sorted((s.name, n, True) for s, n in plays)
