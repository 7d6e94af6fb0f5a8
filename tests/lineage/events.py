"""Builders of OpenLineage events as JSON documents, the way clients post them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

PRODUCER = "https://github.com/example/pipelines/v1"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "https://example.com/facet.json", **fields}


def schema(*names: str) -> dict[str, Any]:
    return facet(fields=[{"name": n, "type": "STRING"} for n in names])


def dataset(
    name: str,
    namespace: str = "warehouse",
    *,
    version: str | None = None,
    fields: tuple[str, ...] = (),
    **facets: Any,
) -> dict[str, Any]:
    all_facets = dict(facets)
    if fields:
        all_facets["schema"] = schema(*fields)
    if version is not None:
        all_facets["version"] = facet(datasetVersion=version)
    return {"namespace": namespace, "name": name, "facets": all_facets}


def column_lineage(**mapping: list[tuple[str, str, str]]) -> dict[str, Any]:
    """out_field=[(namespace, name, field), ...]"""
    return facet(
        fields={
            out: {"inputFields": [{"namespace": ns, "name": n, "field": f} for ns, n, f in src]}
            for out, src in mapping.items()
        }
    )


def run_event(
    job: str,
    *,
    run_id: str | None = None,
    event_type: str = "COMPLETE",
    minutes: float = 0,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    namespace: str = "etl",
    run_facets: dict[str, Any] | None = None,
    job_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": at(minutes),
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT,
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": run_facets or {}},
        "job": {"namespace": namespace, "name": job, "facets": job_facets or {}},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }
