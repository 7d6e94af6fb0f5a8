"""Durations in contracts: ISO 8601 (`PT2H`, `P1DT6H`) or short forms (`90s`, `15m`, `2h`, `1d`)."""

from __future__ import annotations

import re
from datetime import timedelta

_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?\Z",
    re.ASCII,  # `\d` would otherwise take any Unicode digit
)
_SHORT = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d|w)\Z", re.ASCII)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse a positive duration; raise ValueError naming the accepted forms otherwise."""
    raw = text.strip()
    if m := _SHORT.match(raw):
        delta = timedelta(seconds=float(m["n"]) * _UNIT_SECONDS[m["unit"]])
    elif (m := _ISO.match(raw)) and raw not in ("P", "PT") and not raw.endswith("T"):
        parts = {k: float(v) for k, v in m.groupdict().items() if v}
        delta = timedelta(**parts)
    else:
        raise ValueError(f"{text!r} is not a duration (use ISO 8601 like PT2H or 2h, 30m, 1d)")
    if delta <= timedelta(0):
        raise ValueError(f"{text!r} must be a positive duration")
    return delta
