"""What an integer or a time in a URL may be: outside it is a 422 naming the parameter.

PostgreSQL refuses a parameter past a column's type ("integer out of range", a 500 if it
reaches the database) and an OFFSET past BIGINT, so routes bound every integer they take.
Pydantic reads a number where a date-time is expected as a Unix time (`until=0.5` is
1970-01-01T00:00:00.5Z); the API documents ISO 8601, so a time parameter takes only text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

INT32_MAX = 2**31 - 1  # INTEGER columns: version numbers
INT64_MAX = 2**63 - 1  # BIGINT columns (sequence numbers, outbox ids) and OFFSET


def _iso_text_only(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("expected an ISO 8601 date-time, not a number")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text_only)]
