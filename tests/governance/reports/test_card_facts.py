"""The model card's training-batch summary and serving-status wording (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from governance.reports.card_facts import (
    batches_link,
    describe_batches,
    serving_status,
    summarize_batches,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def fact(i: int, *, received: int = 100, quarantined: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "batch_id": f"b{i:03d}",
        "contract_id": "impressions",
        "contract_version": "1.0.0",
        "status": "quarantined" if quarantined else "passed",
        "rows_received": received,
        "rows_quarantined": quarantined,
        "quarantine_rate": quarantined / received,
        **extra,
    }


def test_hundreds_of_batches_become_one_sentence_with_totals() -> None:
    facts = [fact(i, quarantined=5 if i % 48 == 0 else 0) for i in range(288)]
    received = {f["batch_id"]: T0 + timedelta(hours=i) for i, f in enumerate(facts)}
    s = summarize_batches(facts, received)

    assert (s.count, s.first, s.last) == (288, T0, T0 + timedelta(hours=287))
    assert s.statuses == {"passed": 282, "quarantined": 6}
    assert (s.rows_received, s.rows_quarantined) == (28_800, 30)
    assert s.worst == ("b000", 0.05) and s.problems == []
    text = describe_batches(s)
    assert text.startswith("288 training batches received 2026-03-01 00:00 .. 2026-03-12 23:00 UTC")
    assert "(282 passed, 6 quarantined)" in text
    assert "30 of 28,800 rows received (0.10%)" in text and "5.00% (`b000`)" in text


def test_unchecked_and_mismatched_batches_stay_listed_and_out_of_the_totals() -> None:
    facts = [
        fact(1, quarantined=10),
        fact(2) | {"status": None, "problem": "driftgate has no record of this batch"},
        fact(3) | {"problem": "the version claims impressions 1.0.0, driftgate checked 2.0.0"},
    ]
    s = summarize_batches(facts, {"b001": T0, "b003": T0 + timedelta(days=9)})

    assert [p["batch_id"] for p in s.problems] == ["b002", "b003"]
    assert (s.count, s.rows_received, s.statuses) == (3, 100, {"quarantined": 1})
    assert s.first == s.last == T0  # a mismatched batch does not widen the window
    assert "driftgate checked 1 (1 quarantined)" in describe_batches(s)


def test_no_batches_is_said_plainly() -> None:
    assert describe_batches(summarize_batches([], {})) == "The version names no training batches."


def test_batches_link_covers_the_window_with_an_exclusive_until() -> None:
    url = batches_link("http://h:9/", "impressions", T0, T0 + timedelta(hours=5, microseconds=7))
    parsed = urlparse(url)
    q = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    assert (parsed.netloc, parsed.path) == ("h:9", "/batches")
    assert q == {
        "contract": "impressions",
        "since": "2026-03-01T00:00:00+00:00",
        "until": "2026-03-01T05:00:01+00:00",
        "limit": "1000",
    }


@dataclass(frozen=True)
class Move:
    version: int
    previous_version: int | None
    via: str
    actor: str
    at: datetime
    reason: str = ""


PROMOTED = [
    Move(1, None, "set", "ops", T0),
    Move(2, 1, "promote", "ann", T0 + timedelta(days=1)),
]
ROLLED_BACK = [*PROMOTED, Move(1, 2, "rollback", "bob", T0 + timedelta(days=2), "AUC fell")]


def test_after_a_rollback_the_rolled_back_version_says_who_and_what_serves_now() -> None:
    assert serving_status(2, 1, ROLLED_BACK) == (
        'not served: rolled back on 2026-03-03 00:00 UTC by bob ("AUC fell"); v1 serves now'
    )
    assert serving_status(1, 1, ROLLED_BACK) == (
        "served: the champion since 2026-03-03 00:00 UTC (restored when bob rolled back v2)"
    )


def test_before_the_rollback_the_promoted_version_serves_and_the_old_one_was_replaced() -> None:
    assert serving_status(2, 2, PROMOTED) == (
        "served: the champion since 2026-03-02 00:00 UTC (promoted by ann)"
    )
    assert serving_status(1, 2, PROMOTED) == (
        "not served: replaced by v2 on 2026-03-02 00:00 UTC by ann; v2 serves now"
    )


def test_a_version_never_crowned_and_an_automatic_rollback() -> None:
    assert serving_status(3, 1, ROLLED_BACK) == "not served: never the champion; v1 serves now"
    assert serving_status(3, None, []) == "not served: never the champion; no version serves now"
    auto = [*PROMOTED, Move(1, 2, "auto_rollback", "bake", T0 + timedelta(days=2), "burn")]
    assert serving_status(2, 1, auto).startswith("not served: rolled back automatically on")
    assert serving_status(1, 1, auto).endswith("(restored when v2 was rolled back automatically)")
