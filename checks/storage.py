"""Batch payload files: Parquet under the data directory, written atomically, with a sha256."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from checks.errors import StoredFileCorrupt


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_parquet(frame: pl.DataFrame, path: Path) -> str:
    """Write via a temporary name, fsync and rename, so a crash never leaves a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.write_parquet(tmp, compression="lz4", statistics=True)
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return sha256_file(path)


def read_verified(path: Path, expected_sha256: str) -> pl.DataFrame:
    if not path.exists() or sha256_file(path) != expected_sha256:
        raise StoredFileCorrupt(f"stored file {path.name} is missing or does not match its sha256")
    return pl.read_parquet(path)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- crash leftovers -------------------------------------------------------------------------
# A process killed mid-upload (kill -9, OOM, power loss) leaves its spooled request body, and a
# write interrupted between "write .tmp" and "rename" leaves a `.tmp`. Neither is ever data:
# only files a committed batch row points at are read. Each process spools into its own folder
# under `incoming/`, holding an exclusive flock on the folder's `.owner` file while it lives;
# the kernel drops the lock when the process dies however it dies, so a sweeper that can take
# the lock knows the owner is gone and the folder is garbage, with no clock or pid guessing.

OWNER_FILE = ".owner"
_held_spools: dict[tuple[int, Path], tuple[Path, int]] = {}
_held_lock = threading.Lock()


def process_spool_dir(base: Path) -> Path:
    """This process's spool folder under `base`, created and locked on first use."""
    key = (os.getpid(), base)  # a forked child gets its own folder
    with _held_lock:
        held = _held_spools.get(key)
        if held is not None:
            return held[0]
        folder = base / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        fd = os.open(folder / OWNER_FILE, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _held_spools[key] = (folder, fd)
        return folder


def owner_is_gone(folder: Path) -> bool:
    """Whether no live process holds `folder`'s owner lock (the lock is free or the file gone)."""
    try:
        fd = os.open(folder / OWNER_FILE, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock taken here
    return True


@dataclass
class Swept:
    """What one sweep removed: folders and files, and their bytes."""

    spool_folders: int = 0
    tmp_files: int = 0
    loose_spool_files: int = 0
    batch_folders: int = 0
    bytes: int = 0

    @property
    def total(self) -> int:
        return self.spool_folders + self.tmp_files + self.loose_spool_files + self.batch_folders


def sweep_spools(base: Path, *, min_age_seconds: float, now: float | None = None) -> Swept:
    """Remove spool folders of dead processes at once, and loose spool files once old."""
    swept = Swept()
    if not base.is_dir():
        return swept
    now = time.time() if now is None else now
    for entry in base.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            # A folder too new to have its owner file yet is left for the next sweep.
            if _age(entry, now) < 5 and not (entry / OWNER_FILE).exists():
                continue
            if owner_is_gone(entry):
                swept.bytes += tree_bytes(entry)
                remove_tree(entry)
                swept.spool_folders += 1
        elif entry.is_file() and _age(entry, now) >= min_age_seconds:
            # Spooled by code without a folder of its own (the CLI's feed ingest).
            swept.bytes += _unlink(entry)
            swept.loose_spool_files += 1
    return swept


def sweep_tmp_files(root: Path, *, min_age_seconds: float, now: float | None = None) -> Swept:
    """Remove `*.tmp` files under `root` older than `min_age_seconds` (interrupted writes)."""
    swept = Swept()
    now = time.time() if now is None else now
    if not root.is_dir():
        return swept
    for path in root.rglob("*.tmp"):
        if path.is_file() and not path.is_symlink() and _age(path, now) >= min_age_seconds:
            swept.bytes += _unlink(path)
            swept.tmp_files += 1
    return swept


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _age(path: Path, now: float) -> float:
    try:
        return now - path.lstat().st_mtime
    except FileNotFoundError:
        return 0.0


def _unlink(path: Path) -> int:
    try:
        size = path.lstat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    return size
