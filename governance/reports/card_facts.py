"""What the model card says about training batches and serving, as pure functions.

A ranker trained on a week of hourly batches lists ~170 of them; one table row each buries
the card. The card states the totals (count, date range, quarantine rate, check verdicts) and
links to the batches API for the list, keeping rows only for batches driftgate cannot vouch
for. Serving status is worded from the champion's moves, so a card read after a rollback says
who rolled the version back, when, and which version serves instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

# Problem batches shown one per row; past this the card gives the count.
MAX_PROBLEM_ROWS = 20


@dataclass(frozen=True)
class BatchSummary:
    """The training batches in totals; `problems` are the ones driftgate did not check."""

    count: int
    first: datetime | None
    last: datetime | None
    statuses: dict[str, int]
    rows_received: int
    rows_quarantined: int
    worst: tuple[str, float] | None  # (batch id, quarantine rate) of the worst checked batch
    problems: list[dict[str, Any]] = field(default_factory=list)
    windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)  # per contract

    @property
    def quarantine_rate(self) -> float | None:
        return self.rows_quarantined / self.rows_received if self.rows_received else None


def summarize_batches(facts: list[dict[str, Any]], received: dict[str, datetime]) -> BatchSummary:
    """Totals over `gates.training_batches` facts; `received` maps batch id to arrival time."""
    checked = [b for b in facts if b.get("status") and not b.get("problem")]
    times = [received[b["batch_id"]] for b in checked if b["batch_id"] in received]
    windows: dict[str, tuple[datetime, datetime]] = {}
    for b in checked:
        at = received.get(b["batch_id"])
        if at is not None:
            lo, hi = windows.get(b["contract_id"], (at, at))
            windows[b["contract_id"]] = (min(lo, at), max(hi, at))
    rated = [(b["batch_id"], b["quarantine_rate"]) for b in checked if b["quarantine_rate"]]
    return BatchSummary(
        count=len(facts),
        first=min(times, default=None),
        last=max(times, default=None),
        statuses=dict(Counter(str(b["status"]) for b in checked)),
        rows_received=sum(b["rows_received"] or 0 for b in checked),
        rows_quarantined=sum(b["rows_quarantined"] or 0 for b in checked),
        worst=max(rated, key=lambda r: r[1]) if rated else None,
        problems=[b for b in facts if b not in checked],
        windows=windows,
    )


def batches_link(base_url: str, contract: str, first: datetime, last: datetime) -> str:
    """`GET /batches` for the contract over the window (`until` is exclusive, so one second on)."""
    since = first.replace(microsecond=0)
    until = last.replace(microsecond=0) + timedelta(seconds=1)
    query = urlencode(
        {
            "contract": contract,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "limit": 1000,
        }
    )
    return f"{base_url.rstrip('/')}/batches?{query}"


def describe_batches(summary: BatchSummary) -> str:
    """One sentence: how many, when, with what verdicts and quarantine rate."""
    if summary.count == 0:
        return "The version names no training batches."
    checked = sum(summary.statuses.values())
    when = (
        f" received {summary.first:%Y-%m-%d %H:%M} .. {summary.last:%Y-%m-%d %H:%M} UTC"
        if summary.first and summary.last
        else ""
    )
    verdicts = ", ".join(f"{n} {s}" for s, n in sorted(summary.statuses.items()))
    text = f"{summary.count} training batch{'es' if summary.count != 1 else ''}{when}"
    text += f"; driftgate checked {checked}" + (f" ({verdicts})" if verdicts else "") + "."
    rate = summary.quarantine_rate
    if rate is not None:
        text += (
            f" Quarantined {summary.rows_quarantined:,} of {summary.rows_received:,} rows "
            f"received ({rate:.2%})"
        )
        if summary.worst is not None:
            text += f"; the highest in one batch {summary.worst[1]:.2%} (`{summary.worst[0]}`)"
        text += "."
    return text


class ChampionMove(Protocol):
    """One move of the champion alias (`governance.registry.models.ChampionChange`)."""

    @property
    def version(self) -> int: ...
    @property
    def previous_version(self) -> int | None: ...
    @property
    def via(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def at(self) -> datetime: ...


def serving_status(version: int, champion: int | None, moves: Sequence[ChampionMove]) -> str:
    """Whether the version serves `/rank`, and since when and why, in words.

    `moves` are the model's champion moves, oldest first.
    """
    now_serving = f"v{champion} serves now" if champion is not None else "no version serves now"
    if champion == version:
        came = next((m for m in reversed(moves) if m.version == version), None)
        if came is None:
            return "served: the champion"
        return f"served: the champion since {came.at:%Y-%m-%d %H:%M} UTC ({_arrival(came)})"
    left = next((m for m in reversed(moves) if m.previous_version == version), None)
    if left is None:
        return f"not served: never the champion; {now_serving}"
    when = f"{left.at:%Y-%m-%d %H:%M} UTC"
    reason = f' ("{left.reason}")' if left.reason else ""
    if left.via == "auto_rollback":
        return f"not served: rolled back automatically on {when}{reason}; {now_serving}"
    if left.via == "rollback":
        return f"not served: rolled back on {when} by {left.actor}{reason}; {now_serving}"
    return f"not served: replaced by v{left.version} on {when} by {left.actor}; {now_serving}"


def _arrival(move: ChampionMove) -> str:
    if move.via == "auto_rollback":
        return f"restored when v{move.previous_version} was rolled back automatically"
    if move.via == "rollback":
        return f"restored when {move.actor} rolled back v{move.previous_version}"
    return f"{'promoted' if move.via == 'promote' else 'set'} by {move.actor}"
