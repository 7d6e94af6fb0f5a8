"""Spool a request body to disk while hashing it, so big batches never sit whole in memory."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from fastapi import Request
from starlette.datastructures import UploadFile

from checks.readers import detect_format
from checks.service import IncomingBatch
from checks.storage import process_spool_dir
from core.errors import MalformedInput


async def spool_batch_body(request: Request, spool_dir: Path) -> IncomingBatch:
    """Raw bodies are typed by Content-Type; multipart uploads by the `file` part.

    Bodies go to this process's own folder under `spool_dir`, locked while the process lives,
    so what a killed process was spooling is recognised and removed (`checks.leftovers`).
    """
    spool_dir = process_spool_dir(spool_dir)
    media_type = request.headers.get("content-type", "")
    if media_type.lower().startswith("multipart/form-data"):
        return await _spool_multipart(request, spool_dir)
    fmt = detect_format(media_type)
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=spool_dir, suffix=f".{fmt}", delete=False) as fh:
        path = Path(fh.name)
        try:
            async for chunk in request.stream():
                digest.update(chunk)
                fh.write(chunk)
                size += len(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return IncomingBatch(path=path, sha256=digest.hexdigest(), size=size, format=fmt)


async def _spool_multipart(request: Request, spool_dir: Path) -> IncomingBatch:
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise MalformedInput(
                "a multipart upload needs a `file` part", field="file", rule="required"
            )
        fmt = detect_format(upload.content_type, upload.filename)
        digest, size = hashlib.sha256(), 0
        with tempfile.NamedTemporaryFile(dir=spool_dir, suffix=f".{fmt}", delete=False) as fh:
            while chunk := await upload.read(1 << 22):
                digest.update(chunk)
                fh.write(chunk)
                size += len(chunk)
        return IncomingBatch(path=Path(fh.name), sha256=digest.hexdigest(), size=size, format=fmt)
    finally:
        await form.close()
