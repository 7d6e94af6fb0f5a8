"""Group commit for lineage ingest: the events that arrive together share one transaction.

Every accepted event must be durable before its 201, and must be audited in the same
transaction. Committing each event on its own serializes the audit chain's lock and one WAL
flush per event across all requests. Instead, request handlers validate their event (so bad
input never reaches the queue) and hand it to one writer thread. The writer takes whatever is
queued, up to `max_group` events, and in one transaction:

1. writes the events in arrival order with one statement (`ingest_repository.store_events`), which
   also checks each event's bearer token, so a revoked token writes nothing;
2. appends one audit event per new event under a single acquisition of the chain lock;
3. commits (one WAL flush), and only then answers each waiting request.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from core.auth import Principal, Role
from lineage import ingest_repository, service
from lineage.service import Ingested, PreparedEvent

log = logging.getLogger("driftgate.lineage")

Authorize = Callable[[Session, str], Principal]
Outcome = Ingested | Principal | BaseException
_Future = asyncio.Future[Ingested | Principal]


@dataclass(frozen=True)
class _Pending:
    token: str
    event: PreparedEvent | None  # None: only check the token
    loop: asyncio.AbstractEventLoop
    future: _Future


class DedicatedConnection:
    """Sessions on one connection that the writer keeps, instead of a pool checkout (and a
    pre-ping round trip) per group. Its planner settings are made for lineage writes once
    (`ingest_repository.configure_writer_connection`), so it never goes back to the pool: a
    connection that failed is discarded and replaced on the next use."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._connection: Connection | None = None

    def __call__(self) -> Session:
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            self.close()
            connection = self._factory.kw["bind"].connect()
            ingest_repository.configure_writer_connection(connection)
            self._connection = connection
        return self._factory(bind=connection)

    def close(self) -> None:
        if self._connection is not None:
            if not self._connection.closed:
                self._connection.invalidate()  # its settings are not for other users
            self._connection.close()
            self._connection = None


class GroupCommitWriter:
    """The writer thread that commits queued lineage events in groups; see the module
    docstring. `sessions` opens the session of each of its transactions, from that thread
    only. (With several worker processes there is one writer in each; their statements lock
    rows in the same order, so they cannot deadlock each other.)
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        authorize: Authorize,
        *,
        roles: Sequence[Role],
        max_group: int = 64,
    ) -> None:
        self._sessions = sessions
        self._authorize = authorize  # the full check, for the reason a token is refused
        self._roles = roles  # who may write: checked by the statement that writes
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lineage-writer", daemon=True)
        # Transactions that committed more than one event, and groups whose transaction failed
        # and were retried one by one (for tests and operators).
        self.groups = 0
        self.retried_groups = 0

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
                self.retried_groups += 1
                outcomes = [self._alone(item) for item in group]
        # One wake-up per event loop for the whole group, not one per request.
        answers: dict[asyncio.AbstractEventLoop, list[tuple[_Future, Outcome]]] = {}
        for item, outcome in zip(group, outcomes, strict=True):
            answers.setdefault(item.loop, []).append((item.future, outcome))
        for loop, settled in answers.items():
            # A closed event loop (RuntimeError) means nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle_all, settled)

    def _alone(self, item: _Pending) -> Outcome:
        try:
            return self._transaction([item])[0]
        except Exception as exc:
            return exc

    def _transaction(self, group: list[_Pending], *, recheck: bool = True) -> list[Outcome]:
        """Write and audit the group in one transaction (the statement checks each token);
        commit; then say why any token was refused; return the outcomes in order."""
        writes = [(item.token, item.event) for item in group if item.event is not None]
        session = self._sessions()
        try:
            # On the writer's connection, the audit rows and COMMIT go out together.
            with ingest_repository.committing_pipeline(session):
                stored = service.store_events_for_tokens(session, writes, roles=self._roles)
            session.commit()
            results = iter(stored)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()  # before answering: a caller may use the same connection next
        outcomes: list[Outcome] = []
        for item in group:
            result = next(results) if item.event is not None else None
            # None: a refused token, or a request that only checks its token.
            outcomes.append(result if result is not None else self._check(item, recheck))
        return outcomes

    def _check(self, item: _Pending, recheck: bool) -> Outcome:
        """The principal of a token, or why it is refused, from `core.auth` itself. Runs after
        the group's commit, so it answers for this item alone and never raises."""
        try:
            session = self._sessions()
            try:
                principal = self._authorize(session, item.token)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
            if item.event is None:
                return principal
            if recheck:  # accepted now, refused by the write a moment ago: issued in between
                return self._transaction([item], recheck=False)[0]
            return RuntimeError(f"the lineage store refused the token of {principal.name!r}")
        except Exception as exc:  # DriftgateError: 401/403; anything else: this item's 500
            return exc


def _settle_all(settled: list[tuple[_Future, Outcome]]) -> None:
    for future, outcome in settled:
        if future.done():  # the client went away; a written event is committed all the same
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
