"""The OpenLineage store: raw events, and the graph derived from them.

Every table is written with commutative upserts (least/greatest of event times, a max over
run states, facets keyed by content hash), so the same events delivered in any order, any
number of times, leave the same rows behind. Natural keys (namespace + name, run UUID, version
string) identify things; the bigint ids are only for joins.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base

NAMESPACE_MAX = 1000
NAME_MAX = 2000
VERSION_MAX = 500
FIELD_MAX = 1000
FACET_NAME_MAX = 200


class LineageEvent(Base):
    """An accepted event exactly as it was posted; its hash makes redelivery a no-op."""

    __tablename__ = "lineage_events"
    __table_args__ = (Index("ix_lineage_events_run_time", "run_uuid", "event_time"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(16))
    event_time: Mapped[datetime]
    run_uuid: Mapped[uuid.UUID | None]
    producer: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime]
    received_by: Mapped[str] = mapped_column(String(200))


class LineageJob(Base):
    __tablename__ = "lineage_jobs"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(NAMESPACE_MAX))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class LineageDataset(Base):
    __tablename__ = "lineage_datasets"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(NAMESPACE_MAX))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class LineageRun(Base):
    """A run and its state, the max over its events (a finished run never goes back)."""

    __tablename__ = "lineage_runs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_uuid: Mapped[uuid.UUID] = mapped_column(unique=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("lineage_jobs.id"), index=True)
    parent_run_uuid: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # NEW < RUNNING < terminal (COMPLETED, FAILED, ABORTED); among terminals the latest wins.
    state: Mapped[str] = mapped_column(String(16))
    state_rank: Mapped[int] = mapped_column(SmallInteger)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    links: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class LineageDatasetVersion(Base):
    """One version of a dataset: named by a `version` facet, else by the run that wrote it."""

    __tablename__ = "lineage_dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version"),
        Index("ix_lineage_dataset_versions_dataset_produced", "dataset_id", "produced_at"),
        Index("ix_lineage_dataset_versions_producer", "producer_run_uuid"),
        Index(
            "ix_lineage_dataset_versions_links",
            "links",
            postgresql_using="gin",
            postgresql_ops={"links": "jsonb_path_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("lineage_datasets.id"))
    version: Mapped[str] = mapped_column(String(VERSION_MAX))
    producer_run_uuid: Mapped[uuid.UUID | None]
    produced_at: Mapped[datetime | None]
    first_seen: Mapped[datetime]
    # driftgate objects this version stands for: batch_id, contract_id, model_version, ...
    links: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class LineageRunIO(Base):
    """A run read (`in`) or wrote (`out`) a dataset; `version_id` is null for an unversioned
    input, which then reads the version current at `seen_at` (resolved at query time)."""

    __tablename__ = "lineage_run_io"
    __table_args__ = (
        UniqueConstraint(
            "run_id", "direction", "dataset_id", "version_id", postgresql_nulls_not_distinct=True
        ),
        Index("ix_lineage_run_io_version", "version_id"),
        Index("ix_lineage_run_io_dataset", "dataset_id", "direction", "seen_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("lineage_runs.id"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("lineage_datasets.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("lineage_dataset_versions.id"))
    direction: Mapped[str] = mapped_column(String(3))
    seen_at: Mapped[datetime]


class LineageJobIO(Base):
    """The job-level graph (Marquez's): a job reads or writes a dataset, over all its runs."""

    __tablename__ = "lineage_job_io"
    __table_args__ = (Index("ix_lineage_job_io_dataset", "dataset_id", "direction"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("lineage_jobs.id"), primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("lineage_datasets.id"), primary_key=True)


class LineageFacet(Base):
    """A facet as received, verbatim, per owner and content; the current one is the latest."""

    __tablename__ = "lineage_facets"
    __table_args__ = (
        UniqueConstraint("owner_kind", "owner_id", "name", "content_hash"),
        Index("ix_lineage_facets_current", "owner_kind", "owner_id", "name", "last_seen"),
        # Graph walks read every `symlinks` facet (`repository._SYMLINK_PAIRS`): only those.
        Index(
            "ix_lineage_facets_symlinks",
            "owner_id",
            postgresql_where=text("owner_kind = 'dataset' AND name = 'symlinks'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # job, run, dataset, version, input (a run_io row), output (a run_io row)
    owner_kind: Mapped[str] = mapped_column(String(8))
    owner_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(FACET_NAME_MAX))
    content_hash: Mapped[str] = mapped_column(String(64))
    facet: Mapped[Any] = mapped_column(JSONB)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class LineageColumnEdge(Base):
    """Column lineage from a `columnLineage` facet: an output field derives from an input field.

    `out_field` is empty for dataset-wide dependencies (filters, joins, grouping)."""

    __tablename__ = "lineage_column_edges"
    __table_args__ = (
        UniqueConstraint(
            "out_dataset_id",
            "out_field",
            "in_dataset_id",
            "in_field",
            "detail_hash",
            name="uq_lineage_column_edges_edge",
        ),
        Index("ix_lineage_column_edges_input", "in_dataset_id", "in_field"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    out_dataset_id: Mapped[int] = mapped_column(ForeignKey("lineage_datasets.id"))
    out_field: Mapped[str] = mapped_column(String(FIELD_MAX))
    in_dataset_id: Mapped[int] = mapped_column(ForeignKey("lineage_datasets.id"))
    in_field: Mapped[str] = mapped_column(String(FIELD_MAX))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    detail_hash: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime]
