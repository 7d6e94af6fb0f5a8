"""Automatic incidents: what opens one, and what lands on an open one's timeline.

Called from above (monitors' runner, the bake guard, the promotion gates) with plain facts,
since incidents sits below those layers and imports none of them:

- a `page` alert that fires opens an incident (critical), or joins one by lineage
  (`grouping.py`); a `ticket` alert only joins one. Its resolution adds `alert_resolved`.
  Firing and resolving entries carry `details.budget_remaining` (the SLO's error budget left
  at that moment), so the budget consumed while the incident was open can be computed;
- the bake guard's rollback opens one (major) with a `rollback` entry;
- a burst of failing batches of one contract (rejected, or quarantine-heavy) opens one
  (major); every failing batch of a contract with an open incident lands as `batch_failed`
  or `quarantine`, and the earliest sets `first_bad_at` with a `first_bad_batch` entry;
- a promotion refused by the incidents gate adds `promotion_blocked` (once per request);
- a notification delivered (or given up on) for an attached alert adds `notification`.

Every entry has a `source_key`, so running the same step twice changes nothing. One module
per kind of signal (`alerts`, `batches`, `governance`, `notifications`) and `joining` for the
lineage join they share; callers import this package.
"""

from incidents.intake.alerts import ALERT_SEVERITY, AlertSignal, alert_firing, alert_resolved
from incidents.intake.batches import BURST_SEVERITY, MAX_LISTED, batch_failures
from incidents.intake.governance import ROLLBACK_SEVERITY, bake_rollback, promotion_blocked
from incidents.intake.joining import MONITOR
from incidents.intake.notifications import attached_alert_ids, notification_sent

__all__ = [
    "ALERT_SEVERITY",
    "BURST_SEVERITY",
    "MAX_LISTED",
    "MONITOR",
    "ROLLBACK_SEVERITY",
    "AlertSignal",
    "alert_firing",
    "alert_resolved",
    "attached_alert_ids",
    "bake_rollback",
    "batch_failures",
    "notification_sent",
    "promotion_blocked",
]
