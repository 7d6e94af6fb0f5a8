"""Node data in the shape of Marquez's models, field by field. Pure: rows and facets in, dicts out.

Marquez (`api/src/main/java/marquez/service/models/`) answers `GET /api/v1/lineage` with
`DatasetData`, `JobData` and, as a job's `latestRun`, a `Run`; its HTTP mapper writes every
property, nulls included, so every key below is always present. Values come from the same
facets Marquez reads when it ingests an event:

- dataset `description` from `documentation`, `sourceName` from `dataSource` (else
  "default"), `lastLifecycleState` from `lifecycleStateChange`, `fields` from `schema`;
- job `description` from `documentation`, `location` from `sourceCodeLocation.url`, `type`
  STREAM when `jobType.processingType` is STREAMING, the parent from the run's `parent` facet;
- run `nominalStartTime`/`nominalEndTime` from `nominalTime`, and `args` exactly as Marquez's
  `createRunArgs` builds them (nominal times as Java's `ZonedDateTime.toString()` prints them,
  the parent's run id, job name and namespace);
- `jobVersion.version` is Marquez's own job version, `Utils.newJobVersionFor`: a name-based
  (MD5, version 3) UUID of the job's namespace, name, sorted inputs and outputs and location.

driftgate's extras stay: `facets` (current facets, verbatim) on datasets and jobs, and
`currentVersion` on datasets. Where driftgate's store differs (dataset versions are the
`version` facet or the writing run's id, not Marquez's UUIDs; `tags` come from the `tags`
facet, which Marquez's graph leaves empty) docs/lineage.md says so.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from lineage.validate import parse_event_time

TERMINAL_STATES = ("COMPLETED", "FAILED", "ABORTED")
DEFAULT_SOURCE_NAME = "default"  # Marquez's OpenLineageDao.DEFAULT_SOURCE_NAME


def name_uuid(text: str) -> str:
    """Java's `UUID.nameUUIDFromBytes`: MD5 of the UTF-8 bytes, stamped as version 3."""
    digest = bytearray(hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest())
    digest[6] = (digest[6] & 0x0F) | 0x30
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


def job_version(
    namespace: str,
    name: str,
    inputs: Iterable[tuple[str, str]],
    outputs: Iterable[tuple[str, str]],
    location: str | None,
) -> str:
    """Marquez's `Utils.newJobVersionFor` (joined with ':', nulls skipped, datasets sorted)."""

    def joined(datasets: Iterable[tuple[str, str]]) -> str:
        return ":".join(part for d in sorted(set(datasets)) for part in d)

    parts = [namespace, name, joined(inputs), joined(outputs)]
    if location is not None:
        parts.append(location)
    return name_uuid(":".join(parts))


def java_zoned(value: Any) -> str | None:
    """An ISO date-time as Java's `ZonedDateTime.toString()` prints it (`2020-02-22T22:00Z`):
    seconds only when not zero, fractions in groups of three digits, `Z` for UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = parse_event_time(value)
    except ValueError:
        return None
    text = moment.strftime("%Y-%m-%dT%H:%M")
    if moment.second or moment.microsecond:
        text += f":{moment.second:02d}"
        if moment.microsecond:
            fraction = f"{moment.microsecond:06d}"
            text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    offset = moment.utcoffset()
    if not offset:
        return text + "Z"
    total = int(offset.total_seconds())
    sign, total = ("+" if total >= 0 else "-"), abs(total)
    return f"{text}{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_event_time(value)
    except ValueError:
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(facet: Any, key: str) -> str | None:
    value = facet.get(key) if isinstance(facet, dict) else None
    return value if isinstance(value, str) else None


# --- datasets ------------------------------------------------------------------------------


def _tag_name(tag: dict[str, Any]) -> str | None:
    key, value = tag.get("key"), tag.get("value")
    if not isinstance(key, str):
        return None
    return key if value in (None, "", "true", True) else f"{key}:{value}"


def _tags(facets: dict[str, Any], field: str | None) -> list[str]:
    """Tag names from the `tags` facet: dataset tags have no `field`, field tags name one."""
    tags = (facets.get("tags") or {}).get("tags") if isinstance(facets.get("tags"), dict) else []
    names = {
        name
        for t in tags or []
        if isinstance(t, dict) and t.get("field") == field and (name := _tag_name(t))
    }
    return sorted(names)


def fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    """Marquez's `Field`s from the `schema` facet: name, type, tags, description, always."""
    schema = _dict(facets.get("schema"))
    return [
        {
            "name": f["name"],
            "type": f.get("type") if isinstance(f.get("type"), str) else None,
            "tags": _tags(facets, f["name"]),
            "description": f.get("description") if isinstance(f.get("description"), str) else None,
        }
        for f in schema.get("fields") or []
        if isinstance(f, dict) and isinstance(f.get("name"), str)
    ]


def dataset_data(d: Any, facets: dict[str, Any]) -> dict[str, Any]:
    """Marquez's `DatasetData` (plus driftgate's `currentVersion` and `facets`)."""
    lifecycle = facets.get("lifecycleStateChange")
    return {
        "id": {"namespace": d.namespace, "name": d.name},
        "type": "DB_TABLE",
        "name": d.name,
        "physicalName": d.name,
        "createdAt": d.first_seen,
        "updatedAt": d.last_seen,
        "namespace": d.namespace,
        "sourceName": _text(facets.get("dataSource"), "name") or DEFAULT_SOURCE_NAME,
        "fields": fields(facets),
        "tags": _tags(facets, None),
        "lastModifiedAt": d.last_modified_at,
        "description": _text(facets.get("documentation"), "description"),
        "lastLifecycleState": _text(lifecycle, "lifecycleStateChange"),
        "currentVersion": d.current_version,
        "facets": facets,
    }


# --- jobs and runs -------------------------------------------------------------------------


def _job_type(facets: dict[str, Any]) -> str:
    processing = _text(facets.get("jobType"), "processingType")
    return "STREAM" if processing and processing.upper() == "STREAMING" else "BATCH"


def parent_job_name(job_name: str, run_facets: dict[str, Any]) -> str | None:
    """The parent facet's job name; Marquez's `parseParentJobName` when it names the job
    itself (a parent run of the same job name: the part before the last dot)."""
    parent = run_facets.get("parent")
    name = (parent.get("job") or {}).get("name") if isinstance(parent, dict) else None
    if not isinstance(name, str):
        return None
    if name == job_name:
        return name.rpartition(".")[0] or name
    return name


def simple_name(job_name: str, parent: str | None) -> str:
    """The job's name without its parent's `parent.` prefix (Marquez's `simpleName`)."""
    if parent and job_name.startswith(parent + "."):
        return job_name[len(parent) + 1 :]
    return job_name


def run_args(run_facets: dict[str, Any]) -> dict[str, str]:
    """Marquez's `OpenLineageDao.createRunArgs`, key by key and in its order."""
    args: dict[str, str] = {}
    nominal = run_facets.get("nominalTime")
    if isinstance(nominal, dict) and (start := java_zoned(nominal.get("nominalStartTime"))):
        args["nominal_start_time"] = start
        if end := java_zoned(nominal.get("nominalEndTime")):
            args["nominal_end_time"] = end
    parent = run_facets.get("parent")
    if isinstance(parent, dict):
        args["run_id"] = str((parent.get("run") or {}).get("runId"))
        args["name"] = str((parent.get("job") or {}).get("name"))
        args["namespace"] = str((parent.get("job") or {}).get("namespace"))
    return args


def _version_id(e: Any) -> dict[str, Any]:
    return {"namespace": e.namespace, "name": e.name, "version": e.version}


def run(
    r: Any,
    *,
    job_namespace: str,
    job_name: str,
    job_location: str | None,
    facets: dict[str, Any],
    io: Iterable[Any],
    edge_facets: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """Marquez's `Run`: `r` has run_uuid, state, started_at, ended_at and the run's first and
    last seen times; `io` are its `repository.run_io` rows, `edge_facets` their facets."""
    io = list(io)
    ins = [e for e in io if e.direction == "in"]
    outs = [e for e in io if e.direction == "out"]
    nominal = _dict(facets.get("nominalTime"))
    started, ended = r.started_at, r.ended_at
    duration = (
        int((ended - started).total_seconds() * 1000)
        if started is not None and ended is not None
        else None
    )
    parent = parent_job_name(job_name, facets)
    versioned_name = f"{parent}.{simple_name(job_name, parent)}" if parent else job_name
    version = None
    if r.state in TERMINAL_STATES:  # Marquez versions a job when a run finishes
        version = {
            "namespace": job_namespace,
            "name": job_name,
            "version": job_version(
                job_namespace,
                versioned_name,
                [(e.namespace, e.name) for e in ins],
                [(e.namespace, e.name) for e in outs],
                job_location,
            ),
        }
    return {
        "id": str(r.run_uuid),
        "createdAt": r.first_seen,
        "updatedAt": r.last_seen,
        "nominalStartTime": _time(nominal.get("nominalStartTime")),
        "nominalEndTime": _time(nominal.get("nominalEndTime")),
        "state": r.state,
        "startedAt": started,
        "endedAt": ended,
        "durationMs": duration,
        "args": run_args(facets),
        "jobVersion": version,
        "inputDatasetVersions": [
            {"datasetVersionId": _version_id(e), "facets": edge_facets.get(e.id, {})} for e in ins
        ],
        "outputDatasetVersions": [
            {"datasetVersionId": _version_id(e), "facets": edge_facets.get(e.id, {})} for e in outs
        ],
        "facets": facets,
    }


def job_data(
    j: Any,
    facets: dict[str, Any],
    io: dict[str, list[dict[str, str]]],
    latest_run: dict[str, Any] | None,
    run_facets: dict[str, Any],
) -> dict[str, Any]:
    """Marquez's `JobData` (plus driftgate's `facets`); `run_facets` are the latest run's."""
    parent = parent_job_name(j.name, run_facets)
    parent_ns = ((run_facets.get("parent") or {}).get("job") or {}).get("namespace")
    return {
        "id": {"namespace": j.namespace, "name": j.name},
        "type": _job_type(facets),
        "name": j.name,
        "simpleName": simple_name(j.name, parent),
        "parentJobName": parent,
        "parentJobUuid": name_uuid(f"{parent_ns or j.namespace}:{parent}") if parent else None,
        "currentRunUuid": str(j.run_uuid) if j.run_uuid is not None else None,
        "createdAt": j.first_seen,
        "updatedAt": j.last_seen,
        "namespace": j.namespace,
        "inputs": sorted(io["in"], key=lambda d: (d["namespace"], d["name"])),
        "outputs": sorted(io["out"], key=lambda d: (d["namespace"], d["name"])),
        "location": location(facets),
        "description": _text(facets.get("documentation"), "description"),
        "latestRun": latest_run,
        "facets": facets,
    }


def location(job_facets: dict[str, Any]) -> str | None:
    return _text(job_facets.get("sourceCodeLocation"), "url")
