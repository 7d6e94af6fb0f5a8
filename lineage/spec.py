"""The OpenLineage JSON Schema, derived from openlineage-python's generated event classes.

openlineage-python does not ship the spec's JSON files, but its `generated` package is compiled
from them: every event, dataset, job, run and facet class is an attrs class whose fields,
defaults and validators mirror the spec. This module turns those classes back into a JSON Schema
(draft 2020-12) for the pinned client version, so ingest validates exactly what the client can
emit and fails with a JSON path. What the generated code fills in by default but the spec
requires (`producer`, `schemaURL`, `_producer`, `_schemaURL`) is restored here, and the
well-known facet names are bound to their facet classes; unknown (custom) facets are checked
only against the base facet (`_producer`, `_schemaURL`) and otherwise kept verbatim.

Pure: no I/O, built once per process.
"""

from __future__ import annotations

import enum
import types
import typing
from functools import cache
from typing import Any

import attr
from openlineage.client.generated import (
    base,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    data_quality_metrics_dataset,
    data_quality_metrics_input_dataset,
    dataset_type_dataset,
    dataset_version_dataset,
    datasource_dataset,
    documentation_dataset,
    documentation_job,
    environment_variables_run,
    error_message_run,
    external_query_run,
    extraction_error_run,
    input_statistics_input_dataset,
    job_type_job,
    lifecycle_state_change_dataset,
    nominal_time_run,
    output_statistics_output_dataset,
    ownership_dataset,
    ownership_job,
    parent_run,
    processing_engine_run,
    schema_dataset,
    source_code_job,
    source_code_location_job,
    sql_job,
    storage_dataset,
    symlinks_dataset,
    tags_dataset,
    tags_job,
    tags_run,
)

SPEC_VERSION = "2-0-2"

# Facet names the spec defines, bound to the generated class that describes each one.
RUN_FACETS: dict[str, type] = {
    "parent": parent_run.ParentRunFacet,
    "nominalTime": nominal_time_run.NominalTimeRunFacet,
    "errorMessage": error_message_run.ErrorMessageRunFacet,
    "externalQuery": external_query_run.ExternalQueryRunFacet,
    "extractionError": extraction_error_run.ExtractionErrorRunFacet,
    "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
    "environmentVariables": environment_variables_run.EnvironmentVariablesRunFacet,
    "tags": tags_run.TagsRunFacet,
}
JOB_FACETS: dict[str, type] = {
    "jobType": job_type_job.JobTypeJobFacet,
    "documentation": documentation_job.DocumentationJobFacet,
    "ownership": ownership_job.OwnershipJobFacet,
    "sourceCode": source_code_job.SourceCodeJobFacet,
    "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet,
    "sql": sql_job.SQLJobFacet,
    "tags": tags_job.TagsJobFacet,
}
DATASET_FACETS: dict[str, type] = {
    "schema": schema_dataset.SchemaDatasetFacet,
    "dataSource": datasource_dataset.DatasourceDatasetFacet,
    "documentation": documentation_dataset.DocumentationDatasetFacet,
    "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet,
    "dataQualityMetrics": data_quality_metrics_dataset.DataQualityMetricsDatasetFacet,
    "version": dataset_version_dataset.DatasetVersionDatasetFacet,
    "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet,
    "lifecycleStateChange": lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet,
    "ownership": ownership_dataset.OwnershipDatasetFacet,
    "storage": storage_dataset.StorageDatasetFacet,
    "symlinks": symlinks_dataset.SymlinksDatasetFacet,
    "tags": tags_dataset.TagsDatasetFacet,
}
INPUT_FACETS: dict[str, type] = {
    "dataQualityMetrics": data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet,
    "dataQualityAssertions": data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet,
    "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet,
}
OUTPUT_FACETS: dict[str, type] = {
    "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
}

# Where a class holds a map of facets, and which names are known there.
_FACET_MAPS: dict[tuple[type, str], dict[str, type]] = {
    (base.Run, "facets"): RUN_FACETS,
    (base.Job, "facets"): JOB_FACETS,
    (base.Dataset, "facets"): DATASET_FACETS,
    (base.InputDataset, "inputFacets"): INPUT_FACETS,
    (base.OutputDataset, "outputFacets"): OUTPUT_FACETS,
}
# Required by the spec although the generated classes default them. The base facet's
# `_producer`/`_schemaURL` are not restored: Marquez accepts facets without them (hand-written
# events, the dbt/Spark/Flink integrations' test templates), and so does ingest, which records
# each such omission (`lineage.lenient`). The event's own `producer`/`schemaURL` stay required.
_SPEC_REQUIRED: dict[type, tuple[str, ...]] = {
    base.BaseEvent: ("eventTime", "producer", "schemaURL"),
}
# Required by the spec, optional at ingest as in Marquez (recorded by `lineage.lenient`).
_LENIENT_OPTIONAL: frozenset[tuple[type, str]] = frozenset(
    {
        (data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet, "columnMetrics"),
        (data_quality_metrics_dataset.DataQualityMetricsDatasetFacet, "columnMetrics"),
    }
)
_FORMATS = {
    (base.Run, "runId"): "uuid",
    (parent_run.Run, "runId"): "uuid",  # the store keeps a run's parent as a UUID
    (parent_run.RootRun, "runId"): "uuid",
    (base.BaseEvent, "eventTime"): "date-time",
}
_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    Any: {},
    object: {},
}


class _SchemaBuilder:
    """Walks attrs classes into `$defs`, one definition per class (recursion via `$ref`)."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}

    def ref(self, cls: type) -> dict[str, Any]:
        name = f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__qualname__}"
        if name not in self.defs:
            self.defs[name] = {}  # placeholder first: classes may refer to themselves
            self.defs[name] = self._object(cls)
        return {"$ref": f"#/$defs/{name}"}

    def _object(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in attr.fields(cls):
            schema = self._type(hints.get(field.name, Any))
            owner = _owner_of(cls, field.name, _FACET_MAPS)
            if owner is not None:
                schema = self._facet_map(_FACET_MAPS[owner], _facet_base(hints[field.name]))
            fmt = _owner_of(cls, field.name, _FORMATS)
            if fmt is not None:
                schema = {**schema, "format": _FORMATS[fmt]}
            properties[field.name] = schema
            if field.default is attr.NOTHING and (cls, field.name) not in _LENIENT_OPTIONAL:
                required.append(field.name)
        for klass in cls.__mro__:
            required += [n for n in _SPEC_REQUIRED.get(klass, ()) if n not in required]
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        return out

    def _type(self, hint: Any) -> dict[str, Any]:
        if hint in _PRIMITIVES:
            return dict(_PRIMITIVES[hint])
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            options = [self._type(a) for a in args if a is not type(None)]
            schema = options[0] if len(options) == 1 else {"anyOf": options}
            return _nullable(schema) if type(None) in args else schema
        if origin is list:
            return {"type": "array", "items": self._type(args[0]) if args else {}}
        if origin is dict:
            return {
                "type": "object",
                "additionalProperties": self._type(args[1]) if len(args) == 2 else {},
            }
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"enum": [m.value for m in hint]}
        if attr.has(hint):
            return self.ref(hint)
        return {}

    def _facet_map(self, known: dict[str, type], facet_base: type) -> dict[str, Any]:
        """A map of facets: named ones by their class, custom ones by the base facet.

        A deleted facet (`_deleted: true`) only needs the base fields. Every facet class
        extends the base facet, so a document valid as the class is valid as the base: the
        invariant `without_conditionals` relies on."""
        deleted = {"required": ["_deleted"], "properties": {"_deleted": {"const": True}}}
        properties = {
            name: {"if": deleted, "then": self.ref(facet_base), "else": self.ref(cls)}
            for name, cls in known.items()
        }
        return {
            "type": ["object", "null"],
            "properties": properties,
            "additionalProperties": self.ref(facet_base),
        }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Allow null (clients such as Marquez's accept it) while errors keep their deep path."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    if not schema:
        return schema
    return {"if": {"type": "null"}, "else": schema}


def _owner_of(cls: type, name: str, table: dict[tuple[type, str], Any]) -> tuple[type, str] | None:
    for klass in cls.__mro__:
        if (klass, name) in table:
            return (klass, name)
    return None


def _facet_base(hint: Any) -> type:
    """`dict[str, RunFacet] | None` → RunFacet."""
    for arg in typing.get_args(hint):
        if typing.get_origin(arg) is dict:
            value = typing.get_args(arg)[1]
            assert isinstance(value, type)
            return value
    raise TypeError(f"not a facet map: {hint!r}")


EVENT_CLASSES: dict[str, type] = {
    "RunEvent": base.RunEvent,
    "DatasetEvent": base.DatasetEvent,
    "JobEvent": base.JobEvent,
}


@cache
def event_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema per event kind (RunEvent, DatasetEvent, JobEvent)."""
    builder = _SchemaBuilder()
    roots = {kind: builder.ref(cls) for kind, cls in EVENT_CLASSES.items()}
    return {
        kind: {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:driftgate:openlineage:{SPEC_VERSION}:{kind}",
            **root,
            "$defs": builder.defs,
        }
        for kind, root in roots.items()
    }


def without_conditionals(schema: Any) -> Any:
    """The same schema with each `if/then/else` written as `anyOf: [else, allOf: [if, then]]`.

    The two accept the same documents whenever a document valid under `else` and `if` is
    also valid under `then`, which holds for every conditional built here: a facet class
    implies its base facet, and `_nullable` has no `then`. fastjsonschema checks `if` by
    raising and catching an exception, once per facet of a valid event; `anyOf` tries `else`
    first and raises nothing when it holds, which makes validation about a third faster. The
    detailed validator keeps the conditionals: its errors name the deepest path.
    """
    if isinstance(schema, list):
        return [without_conditionals(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: without_conditionals(v) for k, v in schema.items() if k not in ("if", "then", "else")}
    if "if" in schema:
        alternatives = {
            "anyOf": [
                without_conditionals(schema.get("else", {})),
                {
                    "allOf": [
                        without_conditionals(schema["if"]),
                        without_conditionals(schema.get("then", {})),
                    ]
                },
            ]
        }
        out = {"allOf": [out, alternatives]} if "anyOf" in out else {**out, **alternatives}
    return out


def event_kind(document: dict[str, Any]) -> str:
    """Tell the three event kinds apart the way the spec does: by the properties present."""
    if "run" in document:
        return "RunEvent"
    if "dataset" in document:
        return "DatasetEvent"
    if "job" in document:
        return "JobEvent"
    return "RunEvent"  # validating as a run event names the missing properties
