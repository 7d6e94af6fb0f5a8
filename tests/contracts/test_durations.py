"""Durations in contracts accept ASCII ISO 8601 and short forms only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT2H", timedelta(hours=2)),
        ("P1DT6H", timedelta(days=1, hours=6)),
        ("P1W", timedelta(weeks=1)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1.5h", timedelta(minutes=90)),
        (" 2d ", timedelta(days=2)),
    ],
)
def test_parses_iso_and_short_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P\u0662D", "\u0663h", "PT", "P", "P1DT", "0s", "-1h", "2 hours"])
def test_refuses_non_ascii_digits_empty_and_non_positive_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
