"""How `driftgate model show/approve/promote` print a request's gates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from cli.model_cmd import _print_request
from governance.promotions.gate_verdicts import as_shown

GATES = [
    {"name": "artifact", "status": "passed", "summary": "sha256 matches", "blocking": False},
    {"name": "error_budget", "status": "failed", "summary": "budget exhausted", "blocking": True},
]


def request(override: dict[str, Any] | None, state: str = "promoted") -> dict[str, Any]:
    return {
        "id": "7d1c0000-0000-0000-0000-000000000000",
        "model_name": "ranker",
        "version": 3,
        "state": state,
        "approvals_live": 2,
        "quorum": 2,
        "expires_at": datetime(2026, 12, 14, 16, 0),
        "gates": as_shown(GATES, override),
        "override": override,
        "approvals": [],
    }


def test_an_overridden_gate_prints_as_overridden_with_who_and_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    override = {
        "by": "ops-admin",
        "at": "2026-12-07T16:00:00+00:00",
        "reason": "drift is the demo feed, not the model",
        "gates": ["error_budget"],
        "confirmed": True,
    }
    _print_request(request(override))
    out = capsys.readouterr().out
    assert "BLOCKS" not in out
    assert "OVERRIDDEN error_budget" in out
    assert "override by ops-admin of error_budget: drift is the demo feed, not the model" in out


def test_a_pending_override_still_blocks_and_says_it_awaits_a_second_admin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    override = {
        "by": "ops-admin",
        "at": "2026-12-07T16:00:00+00:00",
        "reason": "drift is the demo feed",
        "gates": ["error_budget"],
        "confirmed": False,
    }
    _print_request(request(override, state="open"))
    out = capsys.readouterr().out
    assert "BLOCKS error_budget" in out and "OVERRIDDEN" not in out
    assert "(awaiting a second admin)" in out
