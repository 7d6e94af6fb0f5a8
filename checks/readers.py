"""Read a posted batch (Parquet, CSV, NDJSON) into a polars frame, with 4xx-worthy errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from checks.errors import UnreadableBatch, UnsupportedBatchFormat

FORMATS_BY_MEDIA_TYPE = {
    "application/vnd.apache.parquet": "parquet",
    "application/parquet": "parquet",
    "application/x-parquet": "parquet",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/json-lines": "ndjson",
    "application/jsonlines": "ndjson",
}
FORMATS_BY_SUFFIX = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


def detect_format(media_type: str | None, filename: str | None = None) -> str:
    """Format from the Content-Type (parameters ignored), else from the file name."""
    base = (media_type or "").split(";")[0].strip().lower()
    if base in FORMATS_BY_MEDIA_TYPE:
        return FORMATS_BY_MEDIA_TYPE[base]
    if filename:
        suffix = Path(filename).suffix.lower()
        if suffix in FORMATS_BY_SUFFIX:
            return FORMATS_BY_SUFFIX[suffix]
    raise UnsupportedBatchFormat(
        f"cannot take a batch of type {base or 'unknown'!r}; send Parquet "
        "(application/vnd.apache.parquet), CSV (text/csv) or NDJSON (application/x-ndjson)",
        field="Content-Type",
        rule="supported_media_type",
    )


def read_batch(path: Path, fmt: str) -> pl.DataFrame:
    """Parse the stored body. CSV is read as text so the contract, not inference, decides types."""
    try:
        if fmt == "parquet":
            return pl.read_parquet(path)
        if fmt == "csv":
            _require_utf8(path)
            return pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=False)
        if fmt == "ndjson":
            _require_utf8(path)
            return (
                pl.read_ndjson(path, infer_schema_length=None)
                if path.stat().st_size
                else pl.DataFrame()
            )
    except UnreadableBatch:
        raise
    except Exception as exc:  # polars/arrow raise several types for malformed input
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableBatch(
            f"the {fmt} body does not parse: {first[:500]}", field="body", rule=f"{fmt}_parses"
        ) from None
    raise UnsupportedBatchFormat(f"unknown format {fmt!r}", field="format", rule="supported_format")


def _require_utf8(path: Path, chunk: int = 1 << 22) -> None:
    """Text formats must be UTF-8 without NUL bytes (one incremental pass, bounded memory)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            nul = block.find(b"\x00")
            if nul >= 0:
                raise UnreadableBatch(
                    f"the body contains a NUL byte at offset {offset + nul}",
                    field="body",
                    rule="no_nul_bytes",
                )
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise UnreadableBatch(
                    f"the body is not valid UTF-8 at byte {offset + exc.start}",
                    field="body",
                    rule="utf8",
                ) from None
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UnreadableBatch(
                "the body ends inside a UTF-8 sequence", field="body", rule="utf8"
            ) from None
