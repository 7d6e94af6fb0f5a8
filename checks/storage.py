"""Batch payload files: Parquet under the data directory, written atomically, with a sha256."""

from __future__ import annotations

import hashlib
import os
import shutil
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
