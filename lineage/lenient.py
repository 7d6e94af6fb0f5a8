"""Where an accepted event relied on ingest being as lenient as Marquez. Pure.

The spec requires `_producer` and `_schemaURL` on every facet, and `columnMetrics` in a
`dataQualityMetrics` facet. Marquez accepts events without them, and real producers send such
events: hand-written ones, and the dbt, Spark and Flink integrations' own test templates. So
ingest accepts them too (`spec._SPEC_REQUIRED`, `spec._LENIENT_OPTIONAL`) and stores the event
verbatim, nothing filled in. What was missing is not silent: this module names each omission
by its JSON path, the ingest response counts them (`Lineage-Lenient`) and the event's audit
entry lists them (`lenient`), so a producer can be asked to fix its events later.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

BASE_FIELDS = ("_producer", "_schemaURL")
METRICS_FACET = "dataQualityMetrics"
# At most this many paths are kept per event (an event may carry thousands of facets).
MAX_PATHS = 50


def lenient_paths(document: dict[str, Any], kind: str) -> tuple[str, ...]:
    """JSON paths of what the spec requires and this (already valid) event leaves out."""
    found: list[str] = []
    for path, name, facet in _facets(document, kind):
        found += [f"{path}.{name}.{f}" for f in BASE_FIELDS if f not in facet]
        if name == METRICS_FACET and "columnMetrics" not in facet and not facet.get("_deleted"):
            found.append(f"{path}.{name}.columnMetrics")
        if len(found) >= MAX_PATHS:
            return tuple(found[:MAX_PATHS])
    return tuple(found)


def _facets(document: dict[str, Any], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path of the facet map, facet name, facet) for every facet of the event."""
    maps: list[tuple[str, Any]] = []
    if kind == "DatasetEvent":
        maps.append(("$.dataset.facets", (document.get("dataset") or {}).get("facets")))
    else:
        maps.append(("$.job.facets", (document.get("job") or {}).get("facets")))
        if kind == "RunEvent":
            maps.append(("$.run.facets", (document.get("run") or {}).get("facets")))
        for key, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
            for i, dataset in enumerate(document.get(key) or []):
                maps.append((f"$.{key}[{i}].facets", dataset.get("facets")))
                maps.append((f"$.{key}[{i}].{extra}", dataset.get(extra)))
    for path, facets in maps:
        if not isinstance(facets, dict):
            continue
        for name, facet in facets.items():
            if isinstance(facet, dict):
                yield path, name, facet
