"""Turn one validated OpenLineage event into the rows it contributes to the graph.

Pure: no I/O. Everything here is a function of the event alone, which is what makes ingest
idempotent and order-independent; the store then merges rows with commutative upserts.

- job: (namespace, name); run: its UUID, parent, and the state this event implies;
- datasets: every dataset named (inputs, outputs, static, and column-lineage sources);
- versions: an output's version is its `version` facet, else the run id that wrote it; an
  input is versioned only when it carries a `version` facet (else resolved at query time);
- facets: verbatim (as canonical JSON text), per owner, with a content hash (unknown custom
  facets included); the owner is named by natural keys (namespace/name, version, direction,
  run id), so rows of several events can be written in one statement;
- column edges from `columnLineage` facets; links from the `driftgate` facet.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lineage.errors import InvalidLineageEvent
from lineage.models import FACET_NAME_MAX, FIELD_MAX, NAME_MAX, NAMESPACE_MAX, VERSION_MAX
from lineage.validate import parse_event_time

LINKS_FACET = "driftgate"
VERSION_FACET = "version"
COLUMN_LINEAGE_FACET = "columnLineage"

# A facet's owner: (namespace, name, version, direction, run id), each None where it does not
# apply: a job (its namespace and name), a run (its id), a dataset, a dataset version, or a run's
# input/output edge (all five, the version None for an unversioned input).
FacetOwner = tuple[str | None, str | None, str | None, str | None, str | None]

# eventType → (run state, rank): a finished run never goes back to RUNNING.
RUN_STATES: dict[str | None, tuple[str, int]] = {
    "START": ("RUNNING", 1),
    "RUNNING": ("RUNNING", 1),
    "COMPLETE": ("COMPLETED", 2),
    "FAIL": ("FAILED", 2),
    "ABORT": ("ABORTED", 2),
    "OTHER": ("NEW", 0),
    None: ("NEW", 0),
}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass
class EventRows:
    kind: str
    event_hash: str
    canonical: str  # the event's canonical JSON: what is stored, and what event_hash hashes
    event_time: datetime
    event_type: str | None
    producer: str
    job: tuple[str, str] | None = None
    run: dict[str, Any] | None = None
    datasets: list[dict[str, str]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    io: list[dict[str, Any]] = field(default_factory=list)
    job_io: list[dict[str, str]] = field(default_factory=list)
    # [owner kind, *FacetOwner, facet name, content hash] per facet, and its canonical JSON
    facets: list[list[str | None]] = field(default_factory=list)
    facet_json: list[str] = field(default_factory=list)
    column_edges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_uuid(self) -> str | None:
        return self.run["run_uuid"] if self.run else None


def extract(document: dict[str, Any], kind: str) -> EventRows:
    """The rows one event contributes; raises InvalidLineageEvent on over-long names."""
    event_time = parse_event_time(document["eventTime"])
    canonical = canonical_json(document)
    rows = EventRows(
        kind=kind,
        event_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        canonical=canonical,
        event_time=event_time,
        event_type=document.get("eventType") if kind == "RunEvent" else None,
        producer=_limited(document.get("producer") or "", 2000, "$.producer"),
    )
    ctx = _Collector(rows)
    if kind == "DatasetEvent":
        ctx.dataset(document["dataset"], "$.dataset", direction=None, run_uuid=None)
    else:
        job = document["job"]
        rows.job = (
            _limited(job["namespace"], NAMESPACE_MAX, "$.job.namespace"),
            _limited(job["name"], NAME_MAX, "$.job.name"),
        )
        ctx.facets("job", (*rows.job, None, None, None), job.get("facets"), "$.job.facets")
        run_uuid = None
        if kind == "RunEvent":
            run_uuid = ctx.run(document["run"], rows.event_type)
        for direction, key in (("in", "inputs"), ("out", "outputs")):
            for i, dataset in enumerate(document.get(key) or []):
                ctx.dataset(dataset, f"$.{key}[{i}]", direction=direction, run_uuid=run_uuid)
    rows.datasets = sorted(ctx.datasets.values(), key=lambda d: (d["namespace"], d["name"]))
    rows.versions = sorted(
        ctx.versions.values(), key=lambda v: (v["namespace"], v["name"], v["version"])
    )
    return rows


class _Collector:
    """Accumulates unique rows while walking one event."""

    def __init__(self, rows: EventRows) -> None:
        self.rows = rows
        self.datasets: dict[tuple[str, str], dict[str, str]] = {}
        self.versions: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._io: set[tuple[str, str, str | None, str]] = set()
        self._job_io: set[tuple[str, str, str]] = set()
        self._edges: set[str] = set()
        self._facets: set[tuple[str, FacetOwner, str, str]] = set()
        self._digests: dict[int, tuple[str, str]] = {}  # id(facet) -> (canonical, hash)

    def run(self, run: dict[str, Any], event_type: str | None) -> str:
        state, rank = RUN_STATES.get(event_type, ("NEW", 0))
        t = self.rows.event_time
        facets = run.get("facets") or {}
        parent = (facets.get("parent") or {}).get("run", {}).get("runId")
        self.rows.run = {
            "run_uuid": run["runId"].lower(),
            "parent_run_uuid": parent.lower() if isinstance(parent, str) else None,
            "state": state,
            "state_rank": rank,
            "started_at": t.isoformat() if rank == 1 else None,
            "ended_at": t.isoformat() if rank == 2 else None,
            "links": _links(facets.get(LINKS_FACET)),
        }
        run_uuid: str = self.rows.run["run_uuid"]
        self.facets("run", (None, None, None, None, run_uuid), facets, "$.run.facets")
        return run_uuid

    def dataset(
        self, dataset: dict[str, Any], path: str, *, direction: str | None, run_uuid: str | None
    ) -> None:
        ns, name = self._name(dataset, path)
        facets = dataset.get("facets") or {}
        version = _version_of(facets, path)
        if direction == "out" and version is None and run_uuid is not None:
            version = run_uuid  # an unnamed output version is "what this run wrote"
        self.facets("dataset", (ns, name, None, None, None), facets, f"{path}.facets")
        if version is not None:
            self._version(ns, name, version, direction, run_uuid, facets)
            self.facets("version", (ns, name, version, None, None), facets, f"{path}.facets")
        if direction is not None:
            key = (
                ns,
                name,
                version if direction == "out" or _has_version(facets) else None,
                direction,
            )
            if run_uuid is not None and key not in self._io:
                self._io.add(key)
                self.rows.io.append(
                    {
                        "run_uuid": run_uuid,
                        "namespace": ns,
                        "name": name,
                        "version": key[2],
                        "direction": direction,
                    }
                )
            if (ns, name, direction) not in self._job_io:
                self._job_io.add((ns, name, direction))
                self.rows.job_io.append({"namespace": ns, "name": name, "direction": direction})
            extra_key = "inputFacets" if direction == "in" else "outputFacets"
            if run_uuid is not None:
                owner = (ns, name, key[2], direction, run_uuid)
                self.facets(
                    "input" if direction == "in" else "output",
                    owner,
                    dataset.get(extra_key),
                    f"{path}.{extra_key}",
                )
        self._column_lineage(
            ns, name, facets.get(COLUMN_LINEAGE_FACET), f"{path}.facets.columnLineage"
        )

    def _name(self, dataset: dict[str, Any], path: str) -> tuple[str, str]:
        ns = _limited(dataset["namespace"], NAMESPACE_MAX, f"{path}.namespace")
        name = _limited(dataset["name"], NAME_MAX, f"{path}.name")
        self.datasets.setdefault((ns, name), {"namespace": ns, "name": name})
        return ns, name

    def _version(
        self,
        ns: str,
        name: str,
        version: str,
        direction: str | None,
        run_uuid: str | None,
        facets: dict[str, Any],
    ) -> None:
        row = self.versions.setdefault(
            (ns, name, version),
            {
                "namespace": ns,
                "name": name,
                "version": version,
                "producer_run_uuid": None,
                "produced_at": None,
                "links": {},
            },
        )
        if direction == "out":
            row["producer_run_uuid"] = run_uuid
            row["produced_at"] = self.rows.event_time.isoformat()
        row["links"].update(_links(facets.get(LINKS_FACET)))

    def facets(self, owner_kind: str, owner: FacetOwner, facets: Any, path: str) -> None:
        if not isinstance(facets, dict):
            return
        for facet_name, facet in facets.items():
            if facet is None:
                continue
            _limited(facet_name, FACET_NAME_MAX, f"{path}.{facet_name}")
            text, digest = self._digest(facet)
            key = (owner_kind, owner, facet_name, digest)
            if key in self._facets:
                continue
            self._facets.add(key)
            self.rows.facets.append([owner_kind, *owner, facet_name, digest])
            self.rows.facet_json.append(text)

    def _digest(self, facet: Any) -> tuple[str, str]:
        """A facet's canonical JSON and its hash, once per facet object of the event."""
        found = self._digests.get(id(facet))
        if found is None:
            text = canonical_json(facet)
            found = self._digests[id(facet)] = (
                text,
                hashlib.sha256(text.encode("utf-8")).hexdigest(),
            )
        return found

    def _column_lineage(self, ns: str, name: str, facet: Any, path: str) -> None:
        if not isinstance(facet, dict) or facet.get("_deleted"):
            return
        for out_field, spec in (facet.get("fields") or {}).items():
            _limited(out_field, FIELD_MAX, f"{path}.fields.{out_field}")
            for i, source in enumerate((spec or {}).get("inputFields") or []):
                detail = {k: v for k, v in (spec or {}).items() if k != "inputFields"}
                detail.update(
                    {k: v for k, v in source.items() if k not in ("namespace", "name", "field")}
                )
                self._edge(
                    ns,
                    name,
                    out_field,
                    source,
                    detail,
                    f"{path}.fields.{out_field}.inputFields[{i}]",
                )
        for i, source in enumerate(facet.get("dataset") or []):
            detail = {k: v for k, v in source.items() if k not in ("namespace", "name", "field")}
            self._edge(ns, name, "", source, detail, f"{path}.dataset[{i}]")

    def _edge(
        self,
        ns: str,
        name: str,
        out_field: str,
        source: dict[str, Any],
        detail: dict[str, Any],
        path: str,
    ) -> None:
        in_ns, in_name = self._name(source, path)
        in_field = _limited(source["field"], FIELD_MAX, f"{path}.field")
        edge = {
            "out_namespace": ns,
            "out_name": name,
            "out_field": out_field,
            "in_namespace": in_ns,
            "in_name": in_name,
            "in_field": in_field,
            "detail": detail,
            "detail_hash": content_hash(detail),
        }
        key = content_hash(edge)
        if key not in self._edges:
            self._edges.add(key)
            self.rows.column_edges.append(edge)


def _has_version(facets: dict[str, Any]) -> bool:
    facet = facets.get(VERSION_FACET)
    return (
        isinstance(facet, dict) and not facet.get("_deleted") and bool(facet.get("datasetVersion"))
    )


def _version_of(facets: dict[str, Any], path: str) -> str | None:
    if not _has_version(facets):
        return None
    return _limited(
        str(facets[VERSION_FACET]["datasetVersion"]),
        VERSION_MAX,
        f"{path}.facets.version.datasetVersion",
    )


def _links(facet: Any) -> dict[str, str]:
    """driftgate's own links (batch_id, contract_id, model_version, ...) from its facet."""
    if not isinstance(facet, dict):
        return {}
    return {
        k: str(v)
        for k, v in facet.items()
        if not k.startswith("_") and isinstance(v, str | int | float) and not isinstance(v, bool)
    }


def _limited(value: str, limit: int, path: str) -> str:
    if len(value) > limit:
        raise InvalidLineageEvent(
            f"{path} is {len(value)} characters long; the store keeps at most {limit}",
            field=path,
            rule="max_length",
        )
    if not value and not path.endswith("producer"):
        raise InvalidLineageEvent(f"{path} must not be empty", field=path, rule="min_length")
    return value
