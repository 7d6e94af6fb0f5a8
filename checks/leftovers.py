"""Remove what crashed processes left on disk, at start-up and on a schedule.

Three kinds of leftovers, none of which is ever data (only files a committed batch row points
at are read): spool folders of dead processes (removed at once: their owner lock is free),
`*.tmp` files of interrupted write-then-rename writes, and batch folders whose batch never
committed (a crash between writing the Parquet files and the commit). The last two are removed
only once older than `leftover_min_age_seconds`, since another replica may be writing them now.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from checks import repository
from checks.storage import Swept, remove_tree, sweep_spools, sweep_tmp_files, tree_bytes
from core.settings import Settings

log = logging.getLogger("driftgate.checks.leftovers")


def sweep_files(data_dir: Path, *, min_age_seconds: float) -> Swept:
    """The sweeps that need no database: dead spools, loose spool files, stale `.tmp` files."""
    swept = sweep_spools(data_dir / "incoming", min_age_seconds=min_age_seconds)
    tmp = sweep_tmp_files(data_dir, min_age_seconds=min_age_seconds)
    swept.tmp_files, swept.bytes = tmp.tmp_files, swept.bytes + tmp.bytes
    return swept


def sweep_uncommitted_batches(
    session: Session, data_dir: Path, *, min_age_seconds: float, now: float | None = None
) -> Swept:
    """Remove batch folders old enough whose id has no committed batch row.

    Crashes leave a few such folders. Many of them means the data directory belongs to another
    database (DATABASE_URL changed, data directory kept): then nothing is removed and the
    mismatch is logged, since the files may be another database's only copy.
    """
    swept = Swept()
    now = time.time() if now is None else now
    candidates: dict[uuid.UUID, Path] = {}
    for folder in (data_dir / "batches").glob("*/*"):
        batch_id = _uuid(folder.name)
        old = folder.is_dir() and now - folder.stat().st_mtime >= min_age_seconds
        if batch_id is not None and old:
            candidates[batch_id] = folder
    ids = list(candidates)
    unknown: list[uuid.UUID] = []
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        known = repository.existing_batch_ids(session, chunk)
        unknown += [batch_id for batch_id in chunk if batch_id not in known]
    if len(unknown) > MAX_ORPHANS and len(unknown) > ids_share(len(ids)):
        log.error(
            "%d of %d batch folders under %s have no batch in this database; not removing "
            "any: is DRIFTGATE_DATA_DIR this database's?",
            len(unknown),
            len(ids),
            data_dir,
        )
        return swept
    for batch_id in unknown:
        swept.bytes += tree_bytes(candidates[batch_id])
        remove_tree(candidates[batch_id])
        swept.batch_folders += 1
    return swept


MAX_ORPHANS = 10  # more uncommitted folders than this, and than 5% of all, is a mismatch


def ids_share(total: int) -> float:
    return 0.05 * total


def sweep(sessions: sessionmaker[Session], settings: Settings) -> Swept:
    """One full sweep; without a database it still clears what needs none."""
    min_age = settings.leftover_min_age_seconds
    swept = Swept()
    try:  # before the .tmp sweep: removing a file in a folder makes the folder look young
        with sessions() as session:
            swept = sweep_uncommitted_batches(session, settings.data_dir, min_age_seconds=min_age)
    except Exception as exc:  # the database is down: the next sweep tries again
        log.warning("could not check batch folders against the database: %s", exc)
    files = sweep_files(settings.data_dir, min_age_seconds=min_age)
    swept.spool_folders, swept.loose_spool_files = files.spool_folders, files.loose_spool_files
    swept.tmp_files, swept.bytes = files.tmp_files, swept.bytes + files.bytes
    if swept.total:
        log.info("removed crash leftovers: %s", swept)
    return swept


class LeftoverSweeper:
    """Sweeps once when started (before the app serves), then every `leftover_sweep_seconds`."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions, self._settings = sessions, settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: Swept = Swept()

    def start(self) -> None:
        self.last = sweep(self._sessions, self._settings)
        if self._settings.leftover_sweep_seconds > 0:
            self._thread = threading.Thread(target=self._loop, name="leftovers", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._settings.leftover_sweep_seconds):
            try:
                self.last = sweep(self._sessions, self._settings)
            except Exception:  # never let one sweep end the thread
                log.exception("the leftover sweep failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _uuid(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(name)
    except ValueError:
        return None
