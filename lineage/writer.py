"""Group commit for lineage ingest: the events that arrive together share one transaction.

Every accepted event must be durable before its 201, and must be audited in the same
transaction. Committing each event on its own serializes the audit chain's lock and one WAL
flush per event across all requests. Instead, request handlers validate their event (so bad
input never reaches the queue) and hand it to one writer thread. The writer takes whatever is
queued, up to `max_group` events, and in one transaction:

1. authorizes each distinct bearer token of the group (a revoked token writes nothing);
2. writes the events in arrival order in one pipeline (`service.store_events`);
3. appends one audit event per new event under a single acquisition of the chain lock;
4. commits (one WAL flush), and only then answers each waiting request.

While one group commits, the next one queues up, so groups grow with load and stay at one
event when idle: there is no timer and no added latency. If the group's transaction fails for
any reason (a run id that belongs to another job, a deadlock, a lost connection), it is rolled
back and every event of the group is retried in its own transaction, so each request gets the
answer it would have got alone and no event is lost or half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from core.auth import Principal
from core.errors import DriftgateError
from lineage import service
from lineage.service import Ingested, PreparedEvent

log = logging.getLogger("driftgate.lineage")

Authorize = Callable[[Session, str], Principal]
Outcome = Ingested | Principal | BaseException


@dataclass(frozen=True)
class _Pending:
    token: str
    event: PreparedEvent | None  # None: only check the token
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Ingested | Principal]


class DedicatedConnection:
    """Sessions on one connection that the writer keeps, instead of a pool checkout (and a
    pre-ping round trip) per group. A connection that failed is replaced on the next use."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._connection: Connection | None = None

    def __call__(self) -> Session:
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            if connection is not None:
                connection.close()
            engine = self._factory.kw["bind"]
            connection = self._connection = engine.connect()
        return self._factory(bind=connection)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class GroupCommitWriter:
    """One thread that commits queued lineage events in groups; see the module docstring.

    `sessions` gives the session of each transaction; they are used from the writer thread
    only, one at a time.
    """

    def __init__(
        self, sessions: Callable[[], Session], authorize: Authorize, *, max_group: int = 64
    ) -> None:
        self._sessions = sessions
        self._authorize = authorize
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lineage-writer", daemon=True)
        self.groups = 0  # transactions that committed more than one event (tests, ops)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Write everything already queued, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    async def submit(self, token: str, event: PreparedEvent) -> Ingested:
        """Queue a validated event; return once it is committed (or raise why it was not)."""
        outcome = await self._enqueue(token, event)
        assert isinstance(outcome, Ingested)
        return outcome

    async def authorize(self, token: str) -> Principal:
        """Check a token alone (for a request refused before its event could be queued)."""
        outcome = await self._enqueue(token, None)
        assert isinstance(outcome, Principal)
        return outcome

    async def _enqueue(self, token: str, event: PreparedEvent | None) -> Ingested | Principal:
        if not self._thread.is_alive():
            raise RuntimeError("the lineage writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Ingested | Principal] = loop.create_future()
        self._queue.put(_Pending(token, event, loop, future))
        return await future

    # --- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            try:
                self._write(group)
            except Exception:  # never let one group end the thread
                log.exception("the lineage writer failed to answer a group")

    def _write(self, group: list[_Pending]) -> None:
        outcomes: list[Outcome]
        try:
            outcomes = self._transaction(group)
            if len(group) > 1:
                self.groups += 1
        except Exception as exc:
            if len(group) == 1:
                outcomes = [exc]
            else:
                log.info("lineage group of %d failed (%s); retrying one by one", len(group), exc)
                outcomes = [self._alone(item) for item in group]
        for item, outcome in zip(group, outcomes, strict=True):
            # A closed event loop (RuntimeError) means nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                item.loop.call_soon_threadsafe(_settle, item.future, outcome)

    def _alone(self, item: _Pending) -> Outcome:
        try:
            return self._transaction([item])[0]
        except Exception as exc:
            return exc

    def _transaction(self, group: list[_Pending]) -> list[Outcome]:
        """Authorize, write and audit the group in one transaction; commit; return outcomes."""
        outcomes: list[Outcome] = []
        accepted: list[tuple[Principal, PreparedEvent]] = []
        session = self._sessions()
        try:
            principals: dict[str, Principal | DriftgateError] = {}
            for item in group:
                if item.token not in principals:
                    try:
                        principals[item.token] = self._authorize(session, item.token)
                    except DriftgateError as refused:
                        principals[item.token] = refused
                principal = principals[item.token]
                outcomes.append(principal)
                if item.event is not None and isinstance(principal, Principal):
                    accepted.append((principal, item.event))
            results = iter(service.store_events(session, accepted))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()  # before answering: a caller may use the same connection next
        return [
            next(results) if item.event is not None and isinstance(o, Principal) else o
            for item, o in zip(group, outcomes, strict=True)
        ]


def _settle(future: asyncio.Future[Ingested | Principal], outcome: Outcome) -> None:
    if future.done():  # the client went away; a written event is committed all the same
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
