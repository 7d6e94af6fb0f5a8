"""The model card over HTTP: training batches summarized, serving status after a rollback."""

from __future__ import annotations

import re

import pytest

from tests.governance.conftest import Gov

pytestmark = pytest.mark.slow  # the gov fixture loads the shared trained ranker


def card(gov: Gov, version: int) -> str:
    resp = gov.client.get(f"/models/ranker/versions/{version}/card", headers=gov.as_("test-viewer"))
    assert resp.status_code == 200, resp.text
    return resp.text


def test_card_summarizes_training_batches_and_links_to_the_batches_api(gov: Gov) -> None:
    v = gov.register()
    text = card(gov, v)
    b = gov.batch
    rate = b["rows_quarantined"] / b["rows_received"]
    assert f"1 training batch received {b['received_at'][:10]}" in text
    assert f"driftgate checked 1 (1 {b['status']})" in text
    assert f"({rate:.2%})" in text
    link = re.search(r"\[(http[^\]]+/batches\?[^\]]+)\]", text)
    assert link is not None and "contract=impressions" in link.group(1)
    assert link.group(1).startswith(gov.settings.public_url.rstrip("/"))
    listed = gov.client.get(
        link.group(1).removeprefix(gov.settings.public_url.rstrip("/")),
        headers=gov.as_("test-viewer"),
    )
    assert listed.status_code == 200 and [x["id"] for x in listed.json()] == [b["id"]]
    assert f"| {b['id'][:8]} |" not in text  # no table row per batch


def test_card_says_who_rolled_a_version_back_and_which_serves_now(gov: Gov) -> None:
    old, new = gov.register(), gov.register()
    gov.crown(old)
    gov.crown(new)
    assert "- Status: served: the champion since" in card(gov, new)
    resp = gov.client.post(
        "/models/ranker/rollback",
        json={"reason": "clicks fell after the release", "from_version": new},
        headers=gov.as_("rev-ann"),
    )
    assert resp.status_code == 200, resp.text
    status_new = next(line for line in card(gov, new).splitlines() if "Status:" in line)
    assert re.search(
        rf"not served: rolled back on \d{{4}}-\d\d-\d\d \d\d:\d\d UTC by rev-ann "
        rf'\("clicks fell after the release"\); v{old} serves now',
        status_new,
    ), status_new
    status_old = next(line for line in card(gov, old).splitlines() if "Status:" in line)
    assert "served: the champion since" in status_old
    assert f"(restored when rev-ann rolled back v{new})" in status_old
