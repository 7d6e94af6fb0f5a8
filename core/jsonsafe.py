"""Make values safe for JSONB: PostgreSQL refuses NUL characters, NaN and infinities."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any


def jsonsafe(value: Any) -> Any:
    """Return a JSON-compatible copy: NUL → U+FFFD, non-finite floats → their name, dates → ISO."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return jsonsafe(float(value))
    if isinstance(value, bytes):
        return jsonsafe(value.decode("utf-8", errors="replace"))
    if isinstance(value, dict):
        return {str(jsonsafe(k)): jsonsafe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonsafe(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return jsonsafe(value.item())
    return jsonsafe(str(value))
