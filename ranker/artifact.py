"""Model artifacts: one file with the state dict, config, signature, training data references
and the online feature snapshot, stored content-addressed under the data directory.

Loading verifies the bytes against the expected sha256 *before* deserializing, and
deserializes those same bytes (no second read a swapped file could slip into), with
`weights_only=True` so an artifact can never run code.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from core.errors import Conflict, InvalidInput

FORMAT = "driftgate.ranker/1"


class ArtifactCorrupt(Conflict):
    """The stored artifact is missing or its bytes do not match the registered sha256."""

    type_slug = "artifact-corrupt"


@dataclass(frozen=True)
class StoredArtifact:
    uri: str
    path: Path
    sha256: str
    size: int


def models_dir(data_dir: Path) -> Path:
    return (data_dir / "models").resolve()


def to_bytes(payload: dict[str, Any]) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    return buffer.getvalue()


def write(payload: dict[str, Any], *, data_dir: Path, model_name: str) -> StoredArtifact:
    """Serialize, hash, and write atomically to `models/<name>/<sha256>.pt`."""
    raw = to_bytes(payload)
    digest = hashlib.sha256(raw).hexdigest()
    path = models_dir(data_dir) / model_name / f"{digest}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # a name of its own: two processes may write the same bytes at once
        tmp = path.with_name(f"{digest}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        with tmp.open("wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    return StoredArtifact(uri=path.as_uri(), path=path, sha256=digest, size=len(raw))


def path_of(uri: str, data_dir: Path) -> Path:
    """The local file of an artifact URI; only `file://` URIs inside the models directory."""
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise InvalidInput(
            f"artifact URI {uri!r} must be a file:// URI", field="artifact_uri", rule="file_uri"
        )
    path = Path(unquote(parsed.path)).resolve()
    root = models_dir(data_dir)
    if not path.is_relative_to(root):
        raise InvalidInput(
            f"artifacts must live under {root}", field="artifact_uri", rule="inside_models_dir"
        )
    return path


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def read(path: Path, expected_sha256: str) -> dict[str, Any]:
    """The artifact's payload, only if its bytes hash to `expected_sha256`."""
    import torch

    try:
        raw = path.read_bytes()
    except OSError:
        raise ArtifactCorrupt(
            f"artifact {path.name} is missing", field="artifact_uri", rule="exists"
        ) from None
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected_sha256:
        raise ArtifactCorrupt(
            f"artifact {path.name} has sha256 {actual[:12]}…, registered {expected_sha256[:12]}…",
            field="artifact_sha256",
            rule="sha256_matches",
            extra={"expected_sha256": expected_sha256, "actual_sha256": actual},
        )
    payload: dict[str, Any] = torch.load(io.BytesIO(raw), weights_only=True)
    if payload.get("format") != FORMAT:
        raise ArtifactCorrupt(
            f"artifact {path.name} is not a {FORMAT} artifact", field="artifact_uri", rule="format"
        )
    return payload
