"""Every read of the lineage store: node lookup, recursive walks, node details.

Walks are recursive CTEs over indexed edge tables, bounded by depth; nothing here loads the
graph into Python. Unversioned inputs read "the version current when the run saw the dataset",
resolved inside the walk with an index on (dataset_id, produced_at). The one write path,
ingesting events, is `ingest_repository.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, text, tuple_
from sqlalchemy.orm import Session

from lineage.models import LineageDataset, LineageDatasetVersion, LineageJob, LineageRun

# --- lookups -------------------------------------------------------------------------------


def find_dataset(session: Session, candidates: Sequence[tuple[str, str]]) -> LineageDataset | None:
    """The dataset among (namespace, name) splits of an id; the longest namespace wins ties."""
    if not candidates:
        return None
    rows = session.query(LineageDataset).filter(
        tuple_(LineageDataset.namespace, LineageDataset.name).in_(list(candidates))
    )
    found = sorted(rows, key=lambda d: -len(d.namespace))
    return found[0] if found else None


def find_job(session: Session, candidates: Sequence[tuple[str, str]]) -> LineageJob | None:
    if not candidates:
        return None
    rows = session.query(LineageJob).filter(
        tuple_(LineageJob.namespace, LineageJob.name).in_(list(candidates))
    )
    found = sorted(rows, key=lambda j: -len(j.namespace))
    return found[0] if found else None


def find_run(session: Session, run_uuid: uuid.UUID) -> LineageRun | None:
    return session.query(LineageRun).filter(LineageRun.run_uuid == run_uuid).one_or_none()


def find_version(session: Session, dataset_id: int, version: str) -> LineageDatasetVersion | None:
    return (
        session.query(LineageDatasetVersion)
        .filter(
            LineageDatasetVersion.dataset_id == dataset_id,
            LineageDatasetVersion.version == version,
        )
        .one_or_none()
    )


def latest_version(session: Session, dataset_id: int) -> LineageDatasetVersion | None:
    """The newest produced version, else the newest one seen."""
    return (
        session.query(LineageDatasetVersion)
        .filter(LineageDatasetVersion.dataset_id == dataset_id)
        .order_by(
            LineageDatasetVersion.produced_at.desc().nulls_last(),
            LineageDatasetVersion.first_seen.desc(),
            LineageDatasetVersion.version.desc(),
        )
        .first()
    )


def versions_linked(session: Session, links: dict[str, str], limit: int = 1000) -> list[int]:
    """Versions whose driftgate links contain all of `links` (GIN index on links)."""
    rows = session.execute(
        text(
            "SELECT id FROM lineage_dataset_versions WHERE links @> CAST(:l AS jsonb) "
            "ORDER BY id LIMIT :limit"
        ),
        {"l": _json(links), "limit": limit},
    )
    return [r.id for r in rows]


# --- the job/dataset graph (Marquez's shape) ----------------------------------------------

# Datasets named by a `symlinks` facet are the same node as the dataset declaring it (as in
# Marquez): (primary, alias) pairs, over every symlinks facet ever seen, for aliases that exist
# as datasets of their own (because some event named them directly).
_SYMLINK_PAIRS = """
SELECT DISTINCT f.owner_id AS primary_id, d.id AS alias_id
FROM lineage_facets f
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(f.facet->'identifiers') = 'array'
         THEN f.facet->'identifiers' ELSE '[]'::jsonb END) AS i(x)
JOIN lineage_datasets d ON d.namespace = i.x->>'namespace' AND d.name = i.x->>'name'
WHERE f.owner_kind = 'dataset' AND f.name = 'symlinks' AND d.id <> f.owner_id
"""

_JOB_GRAPH_WALK = text(
    f"""
WITH RECURSIVE links(a, b) AS MATERIALIZED (
    SELECT primary_id, alias_id FROM ({_SYMLINK_PAIRS}) p
    UNION SELECT alias_id, primary_id FROM ({_SYMLINK_PAIRS}) p
),
walk(kind, id, depth) AS (
    SELECT CAST(:kind AS text), CAST(:id AS bigint), 0
  UNION
    SELECT n.kind, n.id, w.depth + n.cost
    FROM walk w
    CROSS JOIN LATERAL (
        SELECT 'job' AS kind, e.job_id AS id, 1 AS cost FROM lineage_job_io e
        WHERE w.kind = 'dataset' AND e.dataset_id = w.id AND e.direction = :from_dataset
        UNION ALL
        SELECT 'dataset', e.dataset_id, 1 FROM lineage_job_io e
        WHERE w.kind = 'job' AND e.job_id = w.id AND e.direction = :from_job
        UNION ALL
        SELECT 'dataset', l.b, 0 FROM links l WHERE w.kind = 'dataset' AND l.a = w.id
    ) AS n
    WHERE w.depth < :hops
)
SELECT kind, id, min(depth) AS depth FROM walk GROUP BY kind, id
"""
)


def symlink_primaries(session: Session, dataset_ids: Iterable[int]) -> dict[int, int]:
    """alias dataset id -> the dataset whose `symlinks` facet names it (the lowest id wins)."""
    rows = session.execute(
        text(
            f"SELECT alias_id, min(primary_id) AS primary_id FROM ({_SYMLINK_PAIRS}) p "
            "WHERE alias_id = ANY(:ids) GROUP BY alias_id"
        ),
        {"ids": list(dataset_ids)},
    )
    return {r.alias_id: r.primary_id for r in rows}


def find_dataset_by_symlink(
    session: Session, candidates: Sequence[tuple[str, str]]
) -> LineageDataset | None:
    """The dataset whose `symlinks` facet names one of these (namespace, name) splits."""
    for namespace, name in sorted(candidates, key=lambda c: -len(c[0])):
        owner = session.execute(
            text(
                "SELECT min(owner_id) AS id FROM lineage_facets "
                "WHERE owner_kind = 'dataset' AND name = 'symlinks' "
                "AND facet->'identifiers' @> CAST(:probe AS jsonb)"
            ),
            {"probe": _json([{"namespace": namespace, "name": name}])},
        ).scalar()
        if owner is not None:
            return session.get(LineageDataset, owner)
    return None


def walk_job_graph(
    session: Session, *, kind: str, node_id: int, depth: int, downstream: bool
) -> list[Row[Any]]:
    """Jobs and datasets reachable in one direction; `depth` counts jobs, so 2 hops each."""
    return list(
        session.execute(
            _JOB_GRAPH_WALK,
            {
                "kind": kind,
                "id": node_id,
                "hops": 2 * depth,
                "from_dataset": "in" if downstream else "out",
                "from_job": "out" if downstream else "in",
            },
        )
    )


def job_edges(
    session: Session, job_ids: Iterable[int], dataset_ids: Iterable[int]
) -> list[Row[Any]]:
    return list(
        session.execute(
            text(
                "SELECT job_id, dataset_id, direction FROM lineage_job_io "
                "WHERE job_id = ANY(:jobs) AND dataset_id = ANY(:datasets)"
            ),
            {"jobs": list(job_ids), "datasets": list(dataset_ids)},
        )
    )


def datasets_by_id(session: Session, ids: Iterable[int]) -> list[Row[Any]]:
    return list(
        session.execute(
            text(
                """
SELECT d.id, d.namespace, d.name, d.first_seen, d.last_seen, v.version AS current_version,
       m.last_modified_at
FROM lineage_datasets d
LEFT JOIN LATERAL (
    SELECT version FROM lineage_dataset_versions
    WHERE dataset_id = d.id
    ORDER BY produced_at DESC NULLS LAST, first_seen DESC, version DESC LIMIT 1
) v ON true
LEFT JOIN LATERAL (  -- Marquez's lastModifiedAt: the last completed run that wrote it
    SELECT max(r.ended_at) AS last_modified_at
    FROM lineage_run_io i JOIN lineage_runs r ON r.id = i.run_id
    WHERE i.dataset_id = d.id AND i.direction = 'out' AND r.state = 'COMPLETED'
) m ON true
WHERE d.id = ANY(:ids)
ORDER BY d.namespace, d.name
"""
            ),
            {"ids": list(ids)},
        )
    )


def jobs_by_id(session: Session, ids: Iterable[int]) -> list[Row[Any]]:
    return list(
        session.execute(
            text(
                """
SELECT j.id, j.namespace, j.name, j.first_seen, j.last_seen,
       r.id AS run_id, r.run_uuid, r.state, r.started_at, r.ended_at,
       r.first_seen AS run_first_seen, r.last_seen AS run_last_seen
FROM lineage_jobs j
LEFT JOIN LATERAL (
    SELECT id, run_uuid, state, started_at, ended_at, first_seen, last_seen FROM lineage_runs
    WHERE job_id = j.id
    ORDER BY coalesce(ended_at, started_at, last_seen) DESC, run_uuid DESC LIMIT 1
) r ON true
WHERE j.id = ANY(:ids)
ORDER BY j.namespace, j.name
"""
            ),
            {"ids": list(ids)},
        )
    )


def current_facets(
    session: Session, owner_kind: str, ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """The latest facet of each name per owner (ties broken by content, so deterministic)."""
    rows = session.execute(
        text(
            """
SELECT DISTINCT ON (owner_id, name) owner_id, name, facet
FROM lineage_facets
WHERE owner_kind = :kind AND owner_id = ANY(:ids)
ORDER BY owner_id, name, last_seen DESC, content_hash DESC
"""
        ),
        {"kind": owner_kind, "ids": list(ids)},
    )
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        out.setdefault(r.owner_id, {})[r.name] = r.facet
    return out


# --- version-level walks: impact (downstream) and provenance (upstream) --------------------

_IMPACT_WALK = text(
    """
WITH RECURSIVE walk(version_id, run_id, depth) AS (
    SELECT id, CAST(NULL AS bigint), 0 FROM lineage_dataset_versions WHERE id = ANY(:roots)
  UNION
    SELECT o.version_id, r.run_id, w.depth + 1
    FROM walk w
    JOIN lineage_dataset_versions v ON v.id = w.version_id
    CROSS JOIN LATERAL (
        SELECT i.run_id FROM lineage_run_io i
        WHERE i.version_id = v.id AND i.direction = 'in'
        UNION ALL
        SELECT i.run_id FROM lineage_run_io i
        WHERE v.produced_at IS NOT NULL
          AND i.dataset_id = v.dataset_id AND i.direction = 'in' AND i.version_id IS NULL
          AND i.seen_at > v.produced_at
          AND NOT EXISTS (
              SELECT 1 FROM lineage_dataset_versions n
              WHERE n.dataset_id = v.dataset_id
                AND n.produced_at > v.produced_at AND n.produced_at < i.seen_at)
    ) AS r
    JOIN lineage_run_io o ON o.run_id = r.run_id AND o.direction = 'out'
    WHERE w.depth < :depth AND o.version_id IS NOT NULL
)
SELECT version_id, min(depth) AS depth, array_remove(array_agg(DISTINCT run_id), NULL) AS runs
FROM walk GROUP BY version_id
"""
)


def walk_impact(session: Session, roots: Sequence[int], depth: int) -> list[Row[Any]]:
    """Every version derived from the root versions, with the runs that derived it."""
    return list(session.execute(_IMPACT_WALK, {"roots": list(roots), "depth": depth}))


_PROVENANCE_WALK = text(
    """
WITH RECURSIVE walk(dataset_id, version_id, via_run_id, depth) AS (
    SELECT v.dataset_id, v.id, CAST(NULL AS bigint), 0
    FROM lineage_dataset_versions v WHERE v.id = ANY(:roots)
  UNION
    SELECT i.dataset_id, src.version_id, i.run_id, 1
    FROM lineage_run_io i
    CROSS JOIN LATERAL (
        SELECT coalesce(i.version_id, (
            SELECT p.id FROM lineage_dataset_versions p
            WHERE p.dataset_id = i.dataset_id AND p.produced_at < i.seen_at
            ORDER BY p.produced_at DESC LIMIT 1)) AS version_id
    ) AS src
    WHERE i.run_id = ANY(:root_runs) AND i.direction = 'in'
  UNION
    SELECT i.dataset_id, src.version_id, i.run_id, w.depth + 1
    FROM walk w
    JOIN lineage_dataset_versions v ON v.id = w.version_id
    JOIN lineage_runs pr ON pr.run_uuid = v.producer_run_uuid
    JOIN lineage_run_io i ON i.run_id = pr.id AND i.direction = 'in'
    CROSS JOIN LATERAL (
        SELECT coalesce(i.version_id, (
            SELECT p.id FROM lineage_dataset_versions p
            WHERE p.dataset_id = i.dataset_id AND p.produced_at < i.seen_at
            ORDER BY p.produced_at DESC LIMIT 1)) AS version_id
    ) AS src
    WHERE w.depth < :depth
)
SELECT dataset_id, version_id, min(depth) AS depth,
       array_remove(array_agg(DISTINCT via_run_id), NULL) AS runs
FROM walk GROUP BY dataset_id, version_id
"""
)


def walk_provenance(
    session: Session, roots: Sequence[int], root_runs: Sequence[int], depth: int
) -> list[Row[Any]]:
    """Every version (or, when unresolvable, dataset) upstream of the roots, with readers."""
    return list(
        session.execute(
            _PROVENANCE_WALK,
            {"roots": list(roots), "root_runs": list(root_runs), "depth": depth},
        )
    )


def versions_by_id(session: Session, ids: Iterable[int]) -> list[Row[Any]]:
    return list(
        session.execute(
            text(
                """
SELECT v.id, v.dataset_id, d.namespace, d.name, v.version, v.producer_run_uuid,
       v.produced_at, v.links
FROM lineage_dataset_versions v JOIN lineage_datasets d ON d.id = v.dataset_id
WHERE v.id = ANY(:ids)
ORDER BY d.namespace, d.name, v.produced_at NULLS LAST, v.version
"""
            ),
            {"ids": list(ids)},
        )
    )


def runs_by_id(session: Session, ids: Iterable[int]) -> list[Row[Any]]:
    return list(
        session.execute(
            text(
                """
SELECT r.id, r.run_uuid, r.state, r.started_at, r.ended_at, r.parent_run_uuid, r.links,
       j.namespace AS job_namespace, j.name AS job_name
FROM lineage_runs r JOIN lineage_jobs j ON j.id = r.job_id
WHERE r.id = ANY(:ids)
ORDER BY coalesce(r.ended_at, r.started_at, r.last_seen), r.run_uuid
"""
            ),
            {"ids": list(ids)},
        )
    )


def run_io(session: Session, run_ids: Iterable[int]) -> list[Row[Any]]:
    """Inputs and outputs of runs, with the version each unversioned input resolved to."""
    return list(
        session.execute(
            text(
                """
SELECT i.id, i.run_id, i.direction, d.id AS dataset_id, d.namespace, d.name,
       coalesce(v.version, rv.version) AS version, coalesce(v.id, rv.id) AS version_id,
       i.version_id IS NULL AS resolved_by_time
FROM lineage_run_io i
JOIN lineage_datasets d ON d.id = i.dataset_id
LEFT JOIN lineage_dataset_versions v ON v.id = i.version_id
LEFT JOIN LATERAL (
    SELECT p.id, p.version FROM lineage_dataset_versions p
    WHERE i.version_id IS NULL AND p.dataset_id = i.dataset_id AND p.produced_at < i.seen_at
    ORDER BY p.produced_at DESC LIMIT 1
) rv ON true
WHERE i.run_id = ANY(:ids)
ORDER BY i.run_id, i.direction, d.namespace, d.name
"""
            ),
            {"ids": list(run_ids)},
        )
    )


def runs_writing(session: Session, version_ids: Iterable[int]) -> list[int]:
    rows = session.execute(
        text(
            "SELECT DISTINCT run_id FROM lineage_run_io "
            "WHERE version_id = ANY(:ids) AND direction = 'out'"
        ),
        {"ids": list(version_ids)},
    )
    return [r.run_id for r in rows]


def run_events(session: Session, run_uuid: uuid.UUID) -> list[Row[Any]]:
    """The state history: every accepted event of a run, in event-time order."""
    return list(
        session.execute(
            text(
                "SELECT event_type, event_time, received_at, producer FROM lineage_events "
                "WHERE run_uuid = :r ORDER BY event_time, event_type"
            ),
            {"r": run_uuid},
        )
    )


def child_runs(session: Session, run_uuid: uuid.UUID) -> list[uuid.UUID]:
    rows = session.execute(
        text("SELECT run_uuid FROM lineage_runs WHERE parent_run_uuid = :r ORDER BY run_uuid"),
        {"r": run_uuid},
    )
    return [r.run_uuid for r in rows]


# --- column lineage ---------------------------------------------------------------------

_COLUMN_WALK = text(
    """
WITH RECURSIVE walk(dataset_id, field, depth) AS (
    SELECT s.dataset_id, s.field, 0
    FROM unnest(CAST(:datasets AS bigint[]), CAST(:fields AS text[])) AS s(dataset_id, field)
  UNION
    SELECT n.dataset_id, n.field, w.depth + 1
    FROM walk w
    CROSS JOIN LATERAL (
        SELECT c.out_dataset_id AS dataset_id, c.out_field AS field FROM lineage_column_edges c
        WHERE :downstream AND c.in_dataset_id = w.dataset_id AND c.in_field = w.field
        UNION ALL
        SELECT c.in_dataset_id, c.in_field FROM lineage_column_edges c
        WHERE NOT :downstream AND c.out_dataset_id = w.dataset_id AND c.out_field = w.field
    ) AS n
    WHERE w.depth < :depth AND w.field <> ''
)
SELECT dataset_id, field, min(depth) AS depth FROM walk GROUP BY dataset_id, field
"""
)


def walk_columns(
    session: Session, *, dataset_id: int, field: str, depth: int, downstream: bool
) -> list[Row[Any]]:
    """Fields reachable through column lineage; '' stands for "the whole dataset"."""
    return walk_columns_from(session, [(dataset_id, field)], depth=depth, downstream=downstream)


def walk_columns_from(
    session: Session, starts: Sequence[tuple[int, str]], *, depth: int, downstream: bool
) -> list[Row[Any]]:
    """`walk_columns` from several fields at once (every field of a dataset)."""
    return list(
        session.execute(
            _COLUMN_WALK,
            {
                "datasets": [d for d, _ in starts],
                "fields": [f for _, f in starts],
                "depth": depth,
                "downstream": downstream,
            },
        )
    )


def job_outputs(session: Session, job_id: int) -> list[int]:
    """Datasets a job writes (over all its runs)."""
    rows = session.execute(
        text(
            "SELECT dataset_id FROM lineage_job_io WHERE job_id = :j AND direction = 'out' "
            "ORDER BY dataset_id"
        ),
        {"j": job_id},
    )
    return [r.dataset_id for r in rows]


def column_fields_of(session: Session, dataset_id: int) -> list[str]:
    """Fields of a dataset that take part in column lineage (as output or input)."""
    rows = session.execute(
        text(
            "SELECT out_field AS field FROM lineage_column_edges "
            "WHERE out_dataset_id = :d AND out_field <> '' "
            "UNION SELECT in_field FROM lineage_column_edges WHERE in_dataset_id = :d "
            "ORDER BY 1"
        ),
        {"d": dataset_id},
    )
    return [r.field for r in rows]


def version_as_of(session: Session, dataset_ids: Iterable[int], at: Any) -> dict[int, str]:
    """Per dataset, the version current at `at` (the newest produced no later), else none."""
    rows = session.execute(
        text(
            """
SELECT DISTINCT ON (dataset_id) dataset_id, version FROM lineage_dataset_versions
WHERE dataset_id = ANY(:ids) AND coalesce(produced_at, first_seen) <= :at
ORDER BY dataset_id, coalesce(produced_at, first_seen) DESC, version DESC
"""
        ),
        {"ids": list(dataset_ids), "at": at},
    )
    return {r.dataset_id: r.version for r in rows}


def column_edges_between(session: Session, dataset_ids: Iterable[int]) -> list[Row[Any]]:
    return list(
        session.execute(
            text(
                """
SELECT c.out_dataset_id, c.out_field, c.in_dataset_id, c.in_field, c.detail
FROM lineage_column_edges c
WHERE c.out_dataset_id = ANY(:ids) AND c.in_dataset_id = ANY(:ids)
ORDER BY 1, 2, 3, 4
"""
            ),
            {"ids": list(dataset_ids)},
        )
    )


def datasets_with_column_lineage(session: Session, ids: Iterable[int]) -> set[int]:
    rows = session.execute(
        text(
            "SELECT DISTINCT out_dataset_id FROM lineage_column_edges "
            "WHERE out_dataset_id = ANY(:ids)"
        ),
        {"ids": list(ids)},
    )
    return {r.out_dataset_id for r in rows}


def versions_with_links(
    session: Session, dataset_ids: Iterable[int], keys: Sequence[str], limit: int = 500
) -> list[Row[Any]]:
    """Versions of these datasets that carry any of the link keys (model versions, windows)."""
    return list(
        session.execute(
            text(
                """
SELECT v.id, v.dataset_id, d.namespace, d.name, v.version, v.producer_run_uuid,
       v.produced_at, v.links
FROM lineage_dataset_versions v JOIN lineage_datasets d ON d.id = v.dataset_id
WHERE v.dataset_id = ANY(:ids) AND v.links ?| CAST(:keys AS text[])
ORDER BY d.namespace, d.name, v.produced_at DESC NULLS LAST LIMIT :limit
"""
            ),
            {"ids": list(dataset_ids), "keys": list(keys), "limit": limit},
        )
    )


def assertion_results(session: Session, run_ids: Iterable[int]) -> list[Row[Any]]:
    """Per input edge of these runs, its current `dataQualityAssertions`, counted in SQL."""
    return list(
        session.execute(
            text(
                """
SELECT c.run_id, c.dataset_id,
       (SELECT count(*) FROM jsonb_array_elements(c.facet->'assertions') a
        WHERE a->'success' = 'true') AS passed,
       (SELECT count(*) FROM jsonb_array_elements(c.facet->'assertions') a
        WHERE a->'success' = 'false') AS failed,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('assertion', a->'assertion',
                                                     'column', a->'column')), '[]')
        FROM jsonb_array_elements(c.facet->'assertions') a
        WHERE a->'success' = 'false') AS failed_assertions
FROM (
    SELECT DISTINCT ON (i.id) i.run_id, i.dataset_id, f.facet
    FROM lineage_run_io i
    JOIN lineage_facets f ON f.owner_kind = 'input' AND f.owner_id = i.id
                         AND f.name = 'dataQualityAssertions'
    WHERE i.run_id = ANY(:ids) AND i.direction = 'in'
    ORDER BY i.id, f.last_seen DESC, f.content_hash DESC
) AS c
WHERE jsonb_typeof(c.facet->'assertions') = 'array'
"""
            ),
            {"ids": list(run_ids)},
        )
    )


def producing_runs(
    session: Session,
    namespace: str,
    *,
    dataset_names: Sequence[str],
    versions: Sequence[str],
    job_names: Sequence[str],
) -> dict[str, uuid.UUID]:
    """Version -> run uuid of the runs of these jobs that produced these versions of these
    datasets, all in one namespace (e.g. driftgate's own check runs of some batches)."""
    rows = session.execute(
        text(
            """
SELECT v.version, r.run_uuid
FROM lineage_datasets d
JOIN lineage_dataset_versions v ON v.dataset_id = d.id
JOIN lineage_runs r ON r.run_uuid = v.producer_run_uuid
JOIN lineage_jobs j ON j.id = r.job_id
WHERE d.namespace = :ns AND d.name = ANY(:names) AND v.version = ANY(:versions)
  AND j.namespace = :ns AND j.name = ANY(:jobs)
"""
        ),
        {
            "ns": namespace,
            "names": list(dataset_names),
            "versions": list(versions),
            "jobs": list(job_names),
        },
    )
    return {row.version: row.run_uuid for row in rows}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)
