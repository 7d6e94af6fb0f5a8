"""Idempotent and order-independent: any shuffle with duplicates gives the ordered graph."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.auth import Principal, Role
from lineage.service import ingest_event, prepare_event, store_events
from tests.lineage.events import PRODUCER, at, column_lineage, dataset, facet, run_event

ACTOR = Principal("pipeline", Role.producer)
A, B, C, D = (str(uuid.UUID(int=i)) for i in range(1, 5))


def scenario() -> list[dict[str, Any]]:
    """Four runs over three jobs, state changes, versions, facets that change over time."""
    raw_v1 = dataset("raw", fields=("id", "amount"))
    raw_v2 = dataset("raw", fields=("id", "amount", "country"))
    clean = dataset("clean", version="v1", fields=("id", "amount"))
    clean["facets"]["columnLineage"] = column_lineage(
        amount=[("warehouse", "raw", "amount")], id=[("warehouse", "raw", "id")]
    )
    clean2 = dataset("clean", version="v2", fields=("id", "amount"))
    model = dataset("models/ranker", namespace="driftgate", version="7")
    model["facets"]["driftgate"] = facet(model_name="ranker", model_version="7")
    parent = {"parent": facet(run={"runId": A}, job={"namespace": "etl", "name": "extract"})}
    return [
        run_event("extract", run_id=A, event_type="START", minutes=0, outputs=[raw_v1]),
        run_event("extract", run_id=A, event_type="COMPLETE", minutes=1, outputs=[raw_v2]),
        run_event(
            "transform",
            run_id=B,
            event_type="START",
            minutes=2,
            inputs=[dataset("raw")],
            run_facets=parent,
        ),
        run_event("transform", run_id=B, event_type="RUNNING", minutes=3, inputs=[dataset("raw")]),
        run_event(
            "transform",
            run_id=B,
            event_type="FAIL",
            minutes=4,
            inputs=[dataset("raw")],
            outputs=[clean],
            run_facets=parent,
        ),
        run_event("transform", run_id=C, event_type="START", minutes=5, inputs=[dataset("raw")]),
        run_event(
            "transform",
            run_id=C,
            event_type="COMPLETE",
            minutes=6,
            inputs=[dataset("raw")],
            outputs=[clean2],
            run_facets={"acme": facet(x=1)},
        ),
        run_event(
            "train",
            run_id=D,
            event_type="COMPLETE",
            minutes=7,
            inputs=[dataset("clean", version="v2")],
            outputs=[model],
        ),
        run_event(
            "train", run_id=D, event_type="OTHER", minutes=8, run_facets={"acme": facet(x=2)}
        ),
        {
            "eventTime": at(9),
            "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
            "dataset": dataset("raw", documentation=facet(description="raw orders")),
        },
        {
            "eventTime": at(10),
            "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
            "job": {"namespace": "etl", "name": "report"},
            "inputs": [dataset("clean")],
            "outputs": [dataset("report")],
        },
    ]


def snapshot(db: Session) -> dict[str, Any]:
    """The whole store by natural keys (surrogate ids depend on arrival order; nothing else may)."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(r) for r in db.execute(text(sql)).all())

    ds = {r.id: (r.namespace, r.name) for r in db.execute(text("SELECT * FROM lineage_datasets"))}
    jobs = {r.id: (r.namespace, r.name) for r in db.execute(text("SELECT * FROM lineage_jobs"))}
    runs = {r.id: str(r.run_uuid) for r in db.execute(text("SELECT * FROM lineage_runs"))}
    vers = {
        r.id: (*ds[r.dataset_id], r.version)
        for r in db.execute(text("SELECT * FROM lineage_dataset_versions"))
    }
    io = {
        r.id: (runs[r.run_id], ds[r.dataset_id], vers.get(r.version_id), r.direction)
        for r in db.execute(text("SELECT * FROM lineage_run_io"))
    }
    owners = {"job": jobs, "run": runs, "dataset": ds, "version": vers, "input": io, "output": io}
    facets = sorted(
        (
            r.owner_kind,
            str(owners[r.owner_kind][r.owner_id]),
            r.name,
            r.content_hash,
            r.first_seen,
            r.last_seen,
        )
        for r in db.execute(text("SELECT * FROM lineage_facets"))
    )
    return {
        "events": rows("SELECT event_hash, kind, event_type, event_time FROM lineage_events"),
        "jobs": rows("SELECT namespace, name, first_seen, last_seen FROM lineage_jobs"),
        "datasets": rows("SELECT namespace, name, first_seen, last_seen FROM lineage_datasets"),
        "runs": sorted(
            (
                str(r.run_uuid),
                jobs[r.job_id],
                str(r.parent_run_uuid),
                r.state,
                r.started_at,
                r.ended_at,
                r.first_seen,
                r.last_seen,
                str(r.links),
            )
            for r in db.execute(text("SELECT * FROM lineage_runs"))
        ),
        "versions": sorted(
            (vers[r.id], str(r.producer_run_uuid), r.produced_at, r.first_seen, str(r.links))
            for r in db.execute(text("SELECT * FROM lineage_dataset_versions"))
        ),
        "io": sorted(
            (str(io[r.id]), r.seen_at) for r in db.execute(text("SELECT * FROM lineage_run_io"))
        ),
        "job_io": sorted(
            (jobs[r.job_id], ds[r.dataset_id], r.direction)
            for r in db.execute(text("SELECT * FROM lineage_job_io"))
        ),
        "facets": facets,
        "columns": sorted(
            (
                ds[r.out_dataset_id],
                r.out_field,
                ds[r.in_dataset_id],
                r.in_field,
                r.detail_hash,
                r.first_seen,
            )
            for r in db.execute(text("SELECT * FROM lineage_column_edges"))
        ),
    }


def ingest_all(db: Session, events: list[dict[str, Any]]) -> dict[str, Any]:
    savepoint = db.begin_nested()
    try:
        for event in events:
            ingest_event(db, ACTOR, document=event)
        return snapshot(db)
    finally:
        savepoint.rollback()


def ingest_in_groups(db: Session, groups: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Each group written as the group-commit writer writes it: one statement, in order."""
    savepoint = db.begin_nested()
    try:
        for group in groups:
            store_events(db, [(ACTOR, prepare_event(event)) for event in group])
        return snapshot(db)
    finally:
        savepoint.rollback()


EVENTS = scenario()


def test_the_ordered_scenario_builds_the_expected_graph(db: Session) -> None:
    snap = ingest_all(db, EVENTS)
    states = {r[0]: r[3] for r in snap["runs"]}
    assert states == {A: "COMPLETED", B: "FAILED", C: "COMPLETED", D: "COMPLETED"}
    assert {r[0]: r[2] for r in snap["runs"]}[B] == A  # parent run
    assert (("warehouse", "clean"), "amount", ("warehouse", "raw"), "amount") in {
        c[:4] for c in snap["columns"]
    }
    assert len(snap["events"]) == len(EVENTS)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    order=st.permutations(range(len(EVENTS))),
    duplicates=st.lists(st.integers(0, len(EVENTS) - 1), max_size=8),
    positions=st.lists(st.integers(0, 100), min_size=8, max_size=8),
)
def test_shuffled_and_duplicated_delivery_gives_the_ordered_graph(
    db: Session, order: list[int], duplicates: list[int], positions: list[int]
) -> None:
    expected = ingest_all(db, EVENTS)
    delivery = [EVENTS[i] for i in order]
    for dup, pos in zip(duplicates, positions, strict=False):
        delivery.insert(pos % (len(delivery) + 1), EVENTS[dup])
    assert ingest_all(db, delivery) == expected


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    order=st.permutations(range(len(EVENTS))),
    duplicates=st.lists(st.integers(0, len(EVENTS) - 1), max_size=8),
    cuts=st.sets(st.integers(1, len(EVENTS) + 7), max_size=6),
)
def test_events_written_together_in_any_grouping_give_the_ordered_graph(
    db: Session, order: list[int], duplicates: list[int], cuts: set[int]
) -> None:
    """A run's START and COMPLETE, a dataset's writer and readers, repeats of one event: merged
    inside one statement, they must leave exactly what one-by-one delivery leaves."""
    expected = ingest_all(db, EVENTS)
    delivery = [EVENTS[i] for i in order] + [EVENTS[i] for i in duplicates]
    bounds = [0, *sorted(c for c in cuts if c < len(delivery)), len(delivery)]
    groups = [delivery[a:b] for a, b in itertools.pairwise(bounds) if a < b]
    assert ingest_in_groups(db, groups) == expected


def test_one_group_with_every_event_twice_reports_each_repeat_as_a_duplicate(db: Session) -> None:
    savepoint = db.begin_nested()
    try:
        results = store_events(db, [(ACTOR, prepare_event(e)) for e in EVENTS + EVENTS])
        assert [r.duplicate for r in results] == [False] * len(EVENTS) + [True] * len(EVENTS)
        again = store_events(db, [(ACTOR, prepare_event(e)) for e in EVENTS[:3]])
        assert all(r.duplicate for r in again)
    finally:
        savepoint.rollback()
