"""Training reports each epoch as it ends (the CLI shows it), and stops early as before."""

from __future__ import annotations

import numpy as np

from ranker import nn


def test_fit_reports_every_epoch_it_runs() -> None:
    rng = np.random.default_rng(3)
    n = 512
    numeric = rng.normal(size=(n, 2)).astype(np.float32)
    categorical = rng.integers(0, 3, size=(n, 1)).astype(np.int64)
    labels = (numeric[:, 0] + rng.normal(scale=0.5, size=n) > 0).astype(np.float32)
    shape = nn.ModelShape(n_numeric=2, cardinalities=(3,), mean=[0.0, 0.0], std=[1.0, 1.0])
    config = nn.TrainConfig(hidden=(8,), batch_size=128, max_epochs=6, patience=2)
    seen: list[tuple[int, int]] = []
    result = nn.fit(
        shape,
        config,
        (numeric, categorical, labels),
        (numeric[:128], categorical[:128], labels[:128]),
        on_epoch=lambda entry, most: seen.append((int(entry["epoch"]), most)),
    )
    assert seen == [(e, 6) for e in range(1, len(seen) + 1)]
    assert len(seen) == len(result.history) >= 1
