"""Emit driftgate's own lineage: a run with inputs, outputs and facets, in one call.

Built on openlineage-python: events are its `event_v2` classes, delivered through its
`Transport` interface. `StoreTransport` writes into driftgate's store inside the caller's
session (same transaction: a rolled-back step leaves no lineage); when `DRIFTGATE_OPENLINEAGE_URL`
is set, the same events also go to that server (e.g. Marquez) through openlineage-python's
`HttpTransport`, after the transaction commits and off the request thread.

    from lineage import emit, naming
    emit.record_run(
        session, actor,
        job=naming.TRAIN_JOB,
        inputs=[emit.DatasetRef(None, naming.feature_set("feed"), version=build_id)],
        outputs=[emit.DatasetRef(None, naming.model("ranker"), version="7",
                                 links={naming.MODEL_NAME: "ranker", naming.MODEL_VERSION: "7"})],
        run_facets={"trainingMetrics": {...}},   # any custom facet, kept verbatim
    )
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from openlineage.client import event_v2 as ol
from openlineage.client.generated import error_message_run, parent_run
from openlineage.client.serde import Serde
from openlineage.client.transport.transport import Transport
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from core.auth import Principal
from core.clock import utcnow
from core.settings import Settings, get_settings

log = logging.getLogger("driftgate.lineage")

PRODUCER = "urn:driftgate:0.1.0"
LINKS_FACET = "driftgate"
LINKS_SCHEMA_URL = "urn:driftgate:lineage:facets:DriftgateLinksFacet:1-0-0"
Outcome = Literal["COMPLETE", "FAIL", "ABORT"]

_FORWARDER_KEY = "lineage_forwarder"
_NAMESPACE_KEY = "lineage_namespace"
_OUTBOX_KEY = "lineage_outbox"


@dataclass(frozen=True)
class DatasetRef:
    """A dataset a run read or wrote. `namespace=None` means driftgate's own namespace.

    `version` names the exact version (it becomes a `version` facet); `links` name the driftgate
    objects it stands for (see `lineage.naming`); facets may be openlineage-python facet objects
    or plain dicts (custom facets need `_producer` and `_schemaURL`; `facet()` adds them).
    """

    namespace: str | None
    name: str
    version: str | None = None
    facets: Mapping[str, Any] = field(default_factory=dict)
    input_facets: Mapping[str, Any] = field(default_factory=dict)
    output_facets: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)


def facet(schema_url: str, **fields: Any) -> dict[str, Any]:
    """A custom facet as a dict, with the base-facet fields the spec requires."""
    return {"_producer": PRODUCER, "_schemaURL": schema_url, **fields}


def links_facet(links: Mapping[str, str]) -> dict[str, Any]:
    return facet(LINKS_SCHEMA_URL, **{k: str(v) for k, v in links.items()})


def record_run(
    session: Session,
    actor: Principal,
    *,
    job: str,
    inputs: Sequence[DatasetRef] = (),
    outputs: Sequence[DatasetRef] = (),
    run_id: uuid.UUID | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    outcome: Outcome = "COMPLETE",
    error: str | None = None,
    run_facets: Mapping[str, Any] | None = None,
    job_facets: Mapping[str, Any] | None = None,
    links: Mapping[str, str] | None = None,
    parent: tuple[uuid.UUID, str] | None = None,
    job_namespace: str | None = None,
) -> uuid.UUID:
    """Record one finished run of a driftgate step: a START and a COMPLETE/FAIL/ABORT event.

    Args:
        session: the caller's session; the events join its transaction (flush, no commit).
        actor: who ran the step (recorded in the audit trail with each event).
        job: job name, e.g. `naming.TRAIN_JOB` (namespace: driftgate's unless `job_namespace`).
        inputs, outputs: the datasets read and written, with versions, facets and links.
        run_id: reuse a run id (e.g. to add events to a run later); a new UUID by default.
        started_at, ended_at: default to now; `outcome` FAIL/ABORT with `error` for failures.
        run_facets, job_facets: extra facets (objects or dicts), kept verbatim.
        links: driftgate objects this run stands for (e.g. batch_id), stored on the run.
        parent: (parent run id, parent job name) when this run is part of a larger one.

    Returns the run id.
    """
    namespace = _namespace(session)
    run_id = run_id or uuid.uuid4()
    ended_at = ended_at or utcnow()
    started_at = started_at or ended_at
    facets_of_run = dict(run_facets or {})
    if links:
        facets_of_run[LINKS_FACET] = links_facet(links)
    if parent is not None:
        facets_of_run["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=str(parent[0])),
            job=parent_run.Job(namespace=job_namespace or namespace, name=parent[1]),
        )
    the_job = ol.Job(namespace=job_namespace or namespace, name=job, facets=dict(job_facets or {}))
    start = ol.RunEvent(
        eventType=ol.RunState.START,
        eventTime=_iso(started_at),
        run=ol.Run(runId=str(run_id), facets=facets_of_run),
        job=the_job,
        inputs=[_input(d, namespace) for d in inputs],
        outputs=[_output(d, namespace) for d in outputs],
        producer=PRODUCER,
    )
    end_facets = dict(facets_of_run)
    if error is not None:
        end_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error[:10_000], programmingLanguage="python"
        )
    end = ol.RunEvent(
        eventType=ol.RunState(outcome),
        eventTime=_iso(ended_at),
        run=ol.Run(runId=str(run_id), facets=end_facets),
        job=the_job,
        inputs=start.inputs,
        outputs=start.outputs,
        producer=PRODUCER,
    )
    emit(session, actor, [start, end])
    return run_id


def emit(session: Session, actor: Principal, events: Iterable[Any]) -> None:
    """Store openlineage-python events in this session, then forward them after commit."""
    store = StoreTransport(session, actor)
    events = list(events)
    for event in events:
        store.emit(event)
    forwarder = _forwarder(session)
    if forwarder is not None:
        _outbox(session).extend(events)


class StoreTransport(Transport):
    """An openlineage-python transport that writes into driftgate's store, in a session."""

    kind = "driftgate"

    def __init__(self, session: Session, actor: Principal) -> None:
        self.session = session
        self.actor = actor

    def emit(self, event: Any) -> Any:
        from lineage.service import ingest_event

        return ingest_event(self.session, self.actor, document=Serde.to_dict(event))


# --- naming helpers ------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _dataset_facets(d: DatasetRef) -> dict[str, Any]:
    out: dict[str, Any] = dict(d.facets)
    if d.version is not None:
        from openlineage.client.generated import dataset_version_dataset

        out["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=d.version
        )
    if d.links:
        out[LINKS_FACET] = links_facet(d.links)
    return out


def _input(d: DatasetRef, namespace: str) -> ol.InputDataset:
    return ol.InputDataset(
        namespace=d.namespace or namespace,
        name=d.name,
        facets=_dataset_facets(d),
        inputFacets=dict(d.input_facets),
    )


def _output(d: DatasetRef, namespace: str) -> ol.OutputDataset:
    return ol.OutputDataset(
        namespace=d.namespace or namespace,
        name=d.name,
        facets=_dataset_facets(d),
        outputFacets=dict(d.output_facets),
    )


# --- where events go besides the store -------------------------------------------------------


class Forwarder:
    """Sends events to an external OpenLineage server on a background thread.

    Delivery is best effort (openlineage-python's HttpTransport retries transient errors);
    driftgate's own store is the record. Pending events are flushed at interpreter exit.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0

    def submit(self, events: Sequence[Any]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="lineage-forwarder", daemon=True
                )
                self._thread.start()
                atexit.register(self.flush, 10.0)
        for e in events:
            self._queue.put(e)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted event was sent or failed (True if all handled in time)."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout) if self._thread is not None else True

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self.transport.emit(item)
                self.sent += 1
            except Exception as exc:  # never let a remote failure stop the thread
                self.failed += 1
                log.warning("could not forward a lineage event: %s", exc)


def http_forwarder(settings: Settings) -> Forwarder | None:
    """A forwarder to `DRIFTGATE_OPENLINEAGE_URL` through openlineage-python's HttpTransport."""
    if not settings.openlineage_url:
        return None
    from openlineage.client.transport.http import (
        ApiKeyTokenProvider,
        HttpConfig,
        HttpTransport,
        TokenProvider,
    )

    key = settings.openlineage_api_key
    config = HttpConfig(
        url=settings.openlineage_url,
        endpoint=settings.openlineage_endpoint,
        timeout=settings.openlineage_timeout,
        auth=ApiKeyTokenProvider({"apiKey": key.get_secret_value()}) if key else TokenProvider({}),
    )
    return Forwarder(HttpTransport(config))


def configure_sessions(
    info: dict[str, Any], settings: Settings, forwarder: Forwarder | None
) -> None:
    """Put the namespace and forwarder into a session factory's `info` (app start-up)."""
    info[_NAMESPACE_KEY] = settings.lineage_namespace
    info[_FORWARDER_KEY] = forwarder


_default: dict[str, Any] = {}


def _process_default() -> tuple[str, Forwarder | None]:
    """For sessions not configured by the app (CLI, scripts): from the process settings."""
    if "namespace" not in _default:
        settings = get_settings()
        _default["forwarder"] = http_forwarder(settings)
        _default["namespace"] = settings.lineage_namespace
    return _default["namespace"], _default["forwarder"]


def namespace_of(session: Session) -> str:
    """The lineage namespace this session's runs and datasets are recorded in."""
    return _namespace(session)


def _namespace(session: Session) -> str:
    if _NAMESPACE_KEY in session.info:
        return str(session.info[_NAMESPACE_KEY])
    return _process_default()[0]


def _forwarder(session: Session) -> Forwarder | None:
    if _FORWARDER_KEY in session.info:
        found: Forwarder | None = session.info[_FORWARDER_KEY]
        return found
    return _process_default()[1]


def _outbox(session: Session) -> list[Any]:
    """Events waiting for the transaction to commit; dropped if it rolls back."""
    if _OUTBOX_KEY not in session.info:
        session.info[_OUTBOX_KEY] = []
        sa_event.listen(session, "after_commit", _after_commit)
        sa_event.listen(session, "after_rollback", _after_rollback)
    outbox: list[Any] = session.info[_OUTBOX_KEY]
    return outbox


def _after_commit(session: Session) -> None:
    pending, session.info[_OUTBOX_KEY] = session.info.get(_OUTBOX_KEY, []), []
    forwarder = _forwarder(session)
    if pending and forwarder is not None:
        forwarder.submit(pending)


def _after_rollback(session: Session) -> None:
    session.info[_OUTBOX_KEY] = []
