"""The audit chain checked against signed checkpoints kept outside PostgreSQL.

`write_checkpoint` verifies the chain from the last checkpoint it trusts and only then signs
the head and writes it to the checkpoint directory (one file per checkpoint, written to a
temporary name, fsynced and renamed). `verify_trail` recomputes the chain (from the newest
checkpoint the chain agrees with, or in full) and compares it with every checkpoint:
truncation, a consistent rewrite and a forged checkpoint are each reported with the first
sequence number no longer vouched for. `CheckpointScheduler` writes checkpoints on a timer
in the API process.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core import audit, audit_repository
from core.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    CheckpointKey,
    Finding,
    LoadedCheckpoint,
    judge,
    new_key_text,
    parse_key,
    sign_checkpoint,
    signature_valid,
    start_checkpoint,
    trusted,
)
from core.clock import utcnow
from core.errors import DriftgateError
from core.settings import Settings

log = logging.getLogger(__name__)
# Only one process writes a checkpoint at a time (several API workers run schedulers).
CHECKPOINT_LOCK = 0x6472696674636B70  # "driftckp"


class CheckpointKeyMissing(DriftgateError):
    """No usable signing key: checkpoints can be neither written nor authenticated."""

    status, title, type_slug = 503, "Checkpoint key missing", "checkpoint-key-missing"


class AuditChainBroken(DriftgateError):
    """The chain fails verification, so no checkpoint may vouch for it."""

    status, title, type_slug = 409, "Audit chain broken", "audit-chain-broken"


def checkpoint_dir(settings: Settings) -> Path:
    return settings.audit_checkpoint_dir or settings.data_dir / "audit-checkpoints"


def key_file(settings: Settings) -> Path:
    return settings.audit_checkpoint_key_file or settings.data_dir / "keys" / "audit-checkpoint.key"


# --- key file -----------------------------------------------------------------------------------


def load_key(path: Path) -> CheckpointKey:
    try:
        return parse_key(path.read_bytes())
    except FileNotFoundError as exc:
        raise CheckpointKeyMissing(f"no audit checkpoint key at {path}") from exc
    except CheckpointFormatError as exc:
        raise CheckpointKeyMissing(f"{path}: {exc}") from exc


def create_key(path: Path, algorithm: str) -> CheckpointKey:
    """Write a new key file readable by its owner only; refuse to overwrite one."""
    if algorithm not in ("ed25519", "hmac-sha256"):
        raise ValueError(f"unknown checkpoint algorithm {algorithm!r}")
    data = new_key_text(algorithm)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    _fsync_dir(path.parent)
    return parse_key(data)


def load_or_create_key(settings: Settings) -> CheckpointKey:
    path = key_file(settings)
    if not path.exists():
        algorithm = settings.audit_checkpoint_algorithm
        log.warning("no audit checkpoint key at %s: creating one (%s)", path, algorithm)
        try:
            return create_key(path, algorithm)
        except FileExistsError:
            pass  # another process made it first
    return load_key(path)


# --- checkpoint files ---------------------------------------------------------------------------


def checkpoint_name(cp: Checkpoint) -> str:
    stamp = cp.created_at.replace("-", "").replace(":", "").replace("+0000", "Z")
    return f"checkpoint-{cp.seq:020d}-{stamp}.json"


def write_file(directory: Path, cp: Checkpoint) -> Path:
    """Write one checkpoint atomically: a temporary file, fsync, rename, fsync the directory.

    A reader never sees a half-written checkpoint, and a crash leaves at most a `.tmp` file,
    which `load_checkpoints` ignores.
    """
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / checkpoint_name(cp)
    tmp = directory / f".{final.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "x", encoding="utf-8") as out:
        out.write(cp.to_json())
        out.flush()
        os.fsync(out.fileno())
    os.rename(tmp, final)
    _fsync_dir(directory)
    return final


def load_checkpoints(
    directory: Path, key: CheckpointKey | None, newest: int | None = None
) -> list[LoadedCheckpoint]:
    """The checkpoint files (the `newest` by sequence number, or all), each judged against `key`.

    Names sort by sequence number, so the newest are the last. `key` None: none verifies.
    """
    if not directory.is_dir():
        return []
    loaded = []
    paths = sorted(directory.glob("checkpoint-*.json"))
    for path in paths[-newest:] if newest else paths:
        try:
            cp = Checkpoint.from_json(path.read_text(encoding="utf-8"))
        except (CheckpointFormatError, UnicodeDecodeError) as exc:
            loaded.append(LoadedCheckpoint(path.name, None, False, str(exc)))
            continue
        valid = key is not None and signature_valid(key, cp)
        loaded.append(LoadedCheckpoint(path.name, cp, valid))
    return loaded


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- verify -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrailVerdict:
    intact: bool
    mode: str  # "full" or "incremental"
    events_checked: int
    from_seq: int  # the chain was recomputed after this sequence number
    head_seq: int
    head_hash: str | None
    first_broken_seq: int | None
    reason: str | None
    checkpoints_trusted: int
    latest_checkpoint_seq: int | None
    findings: list[Finding] = field(default_factory=list)


def verify_trail(session: Session, settings: Settings, *, full: bool = False) -> TrailVerdict:
    """Recompute the chain and compare it with the checkpoints; name the first bad seq.

    Incremental (the default) recomputes the events after the newest checkpoint the chain
    still agrees with; every checkpoint is still compared with the chain's stored hashes, and
    the events up to the starting one are counted, so a truncation, a deleted event or a
    rewrite that reaches any checkpoint is found either way. Only a full verify finds an event
    edited in place (its hash left as it was) before the newest checkpoint.
    """
    directory = checkpoint_dir(settings)
    key, key_problem = _key_for_verify(settings, directory)
    # The newest checkpoint alone catches a cut tail or a rewrite anywhere below it; older
    # ones narrow down where a rewrite began, so an incremental verify reads a bounded few.
    newest = None if full else settings.audit_checkpoint_verify_newest
    loaded = load_checkpoints(directory, key, newest)
    head_seq = audit_repository.head_seq(session)
    stored = audit_repository.stored_hashes(session, [cp.seq for cp in trusted(loaded)])
    if key_problem:  # unverifiable, not forged: one finding, and no checkpoint is trusted
        findings = [Finding("forged", None, key_problem)]
        loaded = []
    else:
        findings = judge(loaded, head_seq, stored)
    start = None if full else start_checkpoint(loaded, head_seq, stored)
    if start and audit_repository.events_up_to(session, start.seq) != start.seq:
        start = None  # an event below the checkpoint was deleted: find it with a full scan
    after, link = (start.seq, start.head_hash) if start else (0, audit.GENESIS_HASH)
    # Bounded by the head read above: events appended meanwhile are the next verify's.
    scan = audit.scan_chain(session, after_seq=after, prev_hash=link, upto=head_seq)
    if scan.first_broken_seq is not None:
        findings.append(Finding("chain", scan.first_broken_seq, scan.reason or "broken"))
    findings.sort(key=lambda f: (f.seq is None, f.seq or 0))
    first = next((f for f in findings if f.seq is not None), findings[0] if findings else None)
    good = trusted(loaded)
    return TrailVerdict(
        intact=not findings,
        mode="incremental" if start else "full",
        events_checked=scan.events_checked,
        from_seq=after,
        head_seq=head_seq,
        head_hash=scan.head_hash if not findings and head_seq else None,
        first_broken_seq=first.seq if first else None,
        reason=first.reason if first else None,
        checkpoints_trusted=len(good),
        latest_checkpoint_seq=good[-1].seq if good else None,
        findings=findings,
    )


def _key_for_verify(settings: Settings, directory: Path) -> tuple[CheckpointKey | None, str | None]:
    """The key, or why checkpoints cannot be checked (only a problem if there are any)."""
    try:
        return load_key(key_file(settings)), None
    except CheckpointKeyMissing as exc:
        if directory.is_dir() and any(directory.glob("checkpoint-*.json")):
            return None, f"checkpoints cannot be authenticated: {exc.detail}"
        return None, None


# --- write --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointOutcome:
    written: bool
    seq: int
    path: Path | None
    verdict: TrailVerdict | None  # None when another writer held the lock
    detail: str


def write_checkpoint(session: Session, settings: Settings) -> CheckpointOutcome:
    """Verify the chain from the last checkpoint, then sign its head and write it out.

    Nothing is signed over a chain that fails: a checkpoint would otherwise vouch for the
    tampering. Writes nothing when the head has not moved since the newest checkpoint, or
    when another process holds the checkpoint lock. Raises `AuditChainBroken` if the chain
    fails verification.
    """
    if not audit_repository.try_lock(session, CHECKPOINT_LOCK):
        head = audit_repository.head_seq(session)
        return CheckpointOutcome(False, head, None, None, "another writer is busy")
    key = load_or_create_key(settings)
    if not key.can_sign:
        raise CheckpointKeyMissing(f"{key_file(settings)} holds a public key: it cannot sign")
    verdict = verify_trail(session, settings)
    if not verdict.intact:
        raise AuditChainBroken(
            f"audit chain broken at seq {verdict.first_broken_seq}: {verdict.reason}"
        )
    if verdict.head_seq == 0 or verdict.latest_checkpoint_seq == verdict.head_seq:
        return CheckpointOutcome(False, verdict.head_seq, None, verdict, "head unchanged")
    cp = sign_checkpoint(
        key,
        seq=verdict.head_seq,
        head_hash=verdict.head_hash or "",
        created_at=utcnow(),
        database=audit_repository.database_name(session),
    )
    path = write_file(checkpoint_dir(settings), cp)
    return CheckpointOutcome(True, cp.seq, path, verdict, "written")


class CheckpointScheduler:
    """Writes a checkpoint every `audit_checkpoint_interval_seconds` in a daemon thread."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)
        self.last: CheckpointOutcome | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    @property
    def running(self) -> bool:
        """Whether its thread is alive (stopped schedulers leave nothing behind)."""
        return self._thread.is_alive()

    def tick(self) -> CheckpointOutcome | None:
        """One checkpoint attempt; failures are logged (a broken chain at ERROR), never raised."""
        session = self._sessions()
        try:
            with session.begin():
                self.last = write_checkpoint(session, self._settings)
            self.last_error = None
            if self.last.written:
                log.info("audit checkpoint at seq %d: %s", self.last.seq, self.last.path)
            return self.last
        except AuditChainBroken as exc:
            self.last_error = exc.detail
            log.error("audit checkpoint refused: %s", exc.detail)
        except Exception as exc:  # the thread must survive a database outage
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("audit checkpoint failed")
        finally:
            session.close()
        return None

    def _run(self) -> None:
        while not self._stop.wait(self._settings.audit_checkpoint_interval_seconds):
            self.tick()
