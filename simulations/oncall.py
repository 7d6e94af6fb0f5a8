"""The simulated on-call engineer: notes when the first alert fires, follows the incidents the
service opens (GET /incidents), marks one stable once it is mitigated (the producer's fix has
landed, or the bake guard rolled back) and closed once no page fires any more (PATCH
/incidents/{id}), and at the end drafts the postmortem (POST /incidents/{id}/postmortem).

Until the incidents API exists in this build, the on-call works from alerts alone: resolution
is the moment no page fires after the fault ended, and the missing routes are noted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulations.driver import Driver
from simulations.measure import RunResult


class OnCall:
    def __init__(self, driver: Driver, result: RunResult) -> None:
        self.driver, self.result = driver, result
        self.incidents_api: bool | None = None  # unknown until first asked
        self.known: dict[str, dict[str, Any]] = {}
        self.bad_events: dict[str, int] = {}

    @property
    def now(self) -> datetime:
        return self.driver.clock.now()

    def _after_injection(self) -> bool:
        return self.result.injected_at is None or self.now >= self.result.injected_at

    def _fault_over(self) -> bool:
        end = self.result.fault_end
        return end is not None and self.now >= end

    def after_run(self, transitions: list[dict[str, Any]]) -> None:
        """React to one monitor run: note detection, then follow incidents."""
        r = self.result
        self._note_bad_events()
        for t in transitions:
            if t["to"] != "firing" or not self._after_injection() or r.injected_at is None:
                continue
            if r.first_alert_at is None:
                r.first_alert_at, r.first_alert = self.now, f"{t['slo']}/{t['severity']}"
            if t["severity"] == "page" and r.first_page_at is None:
                r.first_page_at = self.now
        if self.driver.quarantined_at is not None:
            self._mitigated(self.driver.quarantined_at, "quarantine")
        if r.injected_at is not None and not r.detected:
            return
        self._follow_incidents()
        quiet = not self.incidents_api and r.resolved_at is None and self._fault_over()
        if quiet and not self._pages_firing():
            r.resolved_at = self.now

    def _note_bad_events(self) -> None:
        """The first run after the injection whose evaluation counted more bad events."""
        r, now = self.result, self.driver.slo_bad_events()
        if r.injected_at is not None and r.first_signal_at is None and self._after_injection():
            grew = [slo for slo, bad in now.items() if bad > self.bad_events.get(slo, 0)]
            if grew:
                r.first_signal_at, r.first_signal = self.now, ",".join(sorted(grew))
        self.bad_events = now

    def rollbacks(self, rolled_back: list[dict[str, Any]]) -> None:
        r = self.result
        for rb in rolled_back:
            r.rollbacks.append({**rb, "at": self.now.isoformat()})
            if r.first_alert_at is None:
                r.first_alert_at, r.first_alert = self.now, "bake_guard/rollback"
            self._mitigated(self.now, "rollback")

    def _mitigated(self, at: datetime, how: str) -> None:
        r = self.result
        if r.injected_at is not None and (r.mitigated_at is None or at < r.mitigated_at):
            r.mitigated_at, r.mitigated_by = at, how

    def _pages_firing(self) -> bool:
        resp = self.driver.get("/alerts", state="firing", severity="page")
        resp.raise_for_status()
        return bool(resp.json())

    def _incidents(self) -> list[dict[str, Any]]:
        if self.incidents_api is False:
            return []
        resp = self.driver.get("/incidents", limit=100)
        if resp.status_code in (404, 405):
            self.incidents_api = False
            self.result.notes.append("GET /incidents is not in this build: resolved from alerts")
            return []
        resp.raise_for_status()
        self.incidents_api = True
        body = resp.json()
        return list(body["items"] if isinstance(body, dict) else body)

    def _follow_incidents(self) -> None:
        r = self.result
        for inc in self._incidents():
            opened = datetime.fromisoformat(inc["opened_at"])
            if r.injected_at is not None and opened < r.injected_at:
                continue
            self.known[inc["id"]] = inc
            if inc["status"] == "active" and (self._fault_over() or r.rollbacks):
                self._set_status(inc, "stable", "mitigated: the bad input stopped")
                self._mitigated(self.now, "incident stable")
            elif inc["status"] == "stable" and not self._pages_firing():
                closed = self._set_status(inc, "closed", "no page fires any more")
                if closed and r.resolved_at is None:
                    r.resolved_at = self.now

    def _set_status(self, inc: dict[str, Any], status: str, reason: str) -> bool:
        resp = self.driver.client.patch(
            f"/incidents/{inc['id']}",
            json={"status": status, "reason": f"simulated on-call: {reason}"},
            headers=self.driver.as_("on-call"),
        )
        if resp.status_code != 200:
            self.result.notes.append(
                f"PATCH incident {status}: {resp.status_code} {resp.text[:200]}"
            )
            return False
        self.known[inc["id"]] = resp.json()
        return True

    def finish(self) -> None:
        """Record the run's incidents and draft the postmortem of the first one."""
        r = self.result
        self._follow_incidents()
        r.incidents = [
            {
                k: inc.get(k)
                for k in (
                    "id",
                    "title",
                    "severity",
                    "status",
                    "source",
                    "runbook",
                    "opened_at",
                    "stable_at",
                    "closed_at",
                )
            }
            for inc in self.known.values()
        ]
        if not self.incidents_api:
            r.postmortem = {"status": "incidents API missing"}
            return
        if not r.incidents:
            r.postmortem = {"status": "no incident opened"}
            return
        first = min(r.incidents, key=lambda i: i["opened_at"] or "")
        resp = self.driver.client.post(
            f"/incidents/{first['id']}/postmortem", headers=self.driver.as_("on-call")
        )
        if resp.status_code == 405 or (
            resp.status_code == 404 and resp.json().get("detail") == "Not Found"
        ):
            r.postmortem = {"status": "postmortem route missing"}
        elif resp.status_code == 201:
            doc = resp.json()
            r.postmortem = {"status": "drafted", "id": doc["id"], "metrics": doc.get("metrics")}
        else:
            r.postmortem = {"status": f"HTTP {resp.status_code}", "detail": resp.text[:300]}
