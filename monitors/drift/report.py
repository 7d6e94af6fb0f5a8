"""On-demand Evidently HTML drift report of a window against the reference, for deep dives.

Evidently needs raw rows, so this reads the accepted Parquet files of the window's batches and
of the reference's batches (each verified against its sha256), samples both down to
`max_rows`, and runs `DataDriftPreset` on the monitored fields. Evidently (and pandas) are
imported here only, so the API starts without them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from checks import repository as checks_repository
from checks.service import read_accepted
from monitors.drift import repository
from monitors.drift.compare import monitored_fields
from monitors.drift.profiles import CATEGORICAL, NUMERIC
from monitors.drift.references import current_spec
from monitors.errors import InvalidWindow, ReferenceUnavailable

SEED = 20261123


def read_rows(
    session: Session, batch_ids: list[uuid.UUID], columns: list[str], max_rows: int
) -> pl.DataFrame:
    """The accepted rows of these batches (only `columns`), sampled down to `max_rows`."""
    frames = []
    for batch in checks_repository.batches_by_id(session, batch_ids):
        frame = read_accepted(batch)
        if frame.height:
            frames.append(frame.select([c for c in columns if c in frame.columns]))
    if not frames:
        return pl.DataFrame()
    frame = pl.concat(frames, how="diagonal_relaxed")
    return frame.sample(max_rows, seed=SEED) if frame.height > max_rows else frame


def evidently_drift(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    numerical: list[str],
    categorical: list[str],
    *,
    num_method: str | None = None,
    cat_method: str | None = None,
) -> Any:
    """Run Evidently's DataDriftPreset; returns its snapshot (HTML and per-column values)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = numerical + categorical
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    ref = Dataset.from_pandas(_pandas(reference, columns, categorical), data_definition=definition)
    cur = Dataset.from_pandas(_pandas(current, columns, categorical), data_definition=definition)
    preset = DataDriftPreset(columns=columns, num_method=num_method, cat_method=cat_method)
    return Report([preset]).run(cur, ref)


def _pandas(frame: pl.DataFrame, columns: list[str], categorical: list[str]) -> Any:
    frame = frame.select(columns).with_columns(
        [pl.col(c).cast(pl.String) for c in categorical if c in frame.columns]
    )
    return frame.to_pandas()


def drift_report_html(
    session: Session,
    *,
    contract_id: str,
    start: datetime,
    end: datetime,
    max_rows: int,
) -> str:
    """The Evidently HTML report of [start, end) against the active reference."""
    if start >= end:
        raise InvalidWindow("start must be before end", field="start", rule="start_before_end")
    reference = repository.active_reference(session, contract_id)
    if reference is None:
        raise ReferenceUnavailable(
            f"{contract_id!r} has no reference yet", field="dataset", rule="reference_exists"
        )
    spec = current_spec(session, contract_id)
    fields = monitored_fields(spec)
    numerical = [f.name for f in fields if f.type in NUMERIC]
    categorical = [f.name for f in fields if f.type in CATEGORICAL]
    columns = numerical + categorical
    window = [
        b.id for b in checks_repository.usable_batches_between(session, contract_id, start, end)
    ]
    if not window:
        raise InvalidWindow(
            f"no accepted batches of {contract_id!r} between {start} and {end}",
            field="start",
            rule="window_has_data",
        )
    ref_ids = [uuid.UUID(b) for b in reference.batch_ids]
    ref_rows = read_rows(session, ref_ids, columns, max_rows)
    cur_rows = read_rows(session, window, columns, max_rows)
    snapshot = evidently_drift(ref_rows, cur_rows, numerical, categorical)
    html: str = snapshot.get_html_str(as_iframe=False)
    return html
