"""Alert evidence: one gatherer per SLO kind, each showing only what went wrong in its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from monitors.slos.events import LOADERS, Events, to_us
from monitors.slos.evidence import EVIDENCE, STALE_TICKS_SHOWN, evidence
from monitors.slos.models import Slo
from monitors.slos.service import KINDS

START = datetime(2026, 11, 2, tzinfo=UTC)


def test_every_slo_kind_has_events_and_evidence() -> None:
    assert set(EVIDENCE) == set(KINDS) == set(LOADERS)


def test_freshness_evidence_shows_the_newest_stale_ticks_of_the_window_only() -> None:
    ticks = [START + timedelta(minutes=i) for i in range(20)]
    stale = {2, 3, 10, 11, 12, 13, 14, 15, 19}  # 19 is after the window
    events = Events(
        np.array([to_us(t) for t in ticks], dtype=np.int64),
        np.array([i not in stale for i in range(20)]),
    )
    slo = Slo(id="fresh", kind="freshness", contract_id="events", params={})
    start, end = ticks[0], ticks[18]

    shown = evidence(None, slo, events, start, end, "http://dg")  # type: ignore[arg-type]

    assert shown["window"] == {"start": start, "end": end}
    assert shown["stale_ticks"] == [ticks[i] for i in (11, 12, 13, 14, 15)]
    assert len(shown["stale_ticks"]) == STALE_TICKS_SHOWN
    assert shown["url"] == "http://dg/contracts/events/freshness"


def test_a_kind_without_evidence_shows_only_its_window() -> None:
    slo = Slo(id="x", kind="not_a_kind", contract_id=None, params={})
    events = Events(np.empty(0, np.int64), np.empty(0, bool))
    end = START + timedelta(hours=1)

    shown = evidence(None, slo, events, START, end, "http://dg")  # type: ignore[arg-type]

    assert shown == {"window": {"start": START, "end": end}}
