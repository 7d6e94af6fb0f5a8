"""POST /labels joins delayed outcomes to logged predictions in Postgres and reports the rest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.ranker.test_serving import known_ids, rank, serving_client
from tests.support.trained import Trained, bearer

NOW = datetime.now(UTC)


def post(
    client: Any, trained: Trained, labels: list[dict[str, Any]], role: str = "producer"
) -> Any:
    return client.post("/labels", json={"labels": labels}, headers=bearer(trained, role))


def test_labels_join_by_prediction_id_or_by_request_and_item_and_unknown_ones_are_reported(
    trained: Trained,
) -> None:
    user, items = known_ids(trained, 5)
    with serving_client(trained, predlog_flush_seconds=3600) as client:
        doc = rank(client, trained, user_id=user, item_ids=items).json()
        first, second = doc["items"][0], doc["items"][1]
        ghost = str(uuid.uuid4())
        resp = post(
            client,
            trained,
            [
                {
                    "prediction_id": first["prediction_id"],
                    "clicked": True,
                    "dwell_ms": 4200,
                    "label_time": (NOW - timedelta(minutes=5)).isoformat(),
                },
                {
                    "request_id": doc["request_id"],
                    "item_id": second["item_id"],
                    "clicked": False,
                    "label_time": NOW.isoformat(),
                },
                {"prediction_id": ghost, "clicked": True, "label_time": NOW.isoformat()},
                {
                    "request_id": doc["request_id"],
                    "item_id": "not-in-that-list",
                    "clicked": True,
                    "label_time": NOW.isoformat(),
                },
            ],
        )
        assert resp.status_code == 200, resp.text
        report = resp.json()
        assert (report["received"], report["joined"], report["written"], report["stale"]) == (
            4,
            2,
            2,
            0,
        )
        assert [(u["index"], u["reason"]) for u in report["unknown"]] == [
            (2, "no logged prediction with this id"),
            (3, "no logged prediction for this request and item"),
        ]
        assert report["unknown"][0]["prediction_id"] == ghost
        shown = client.get(
            f"/predictions/{first['prediction_id']}", headers=bearer(trained, "viewer")
        ).json()
        assert shown["label"]["clicked"] is True and shown["label"]["dwell_ms"] == 4200
        assert shown["features"]["position"] == 0.0 and shown["position"] == 0
        assert (
            client.get(
                f"/predictions/{uuid.uuid4()}", headers=bearer(trained, "viewer")
            ).status_code
            == 404
        )


def test_an_older_label_never_overwrites_a_newer_one(trained: Trained) -> None:
    user, items = known_ids(trained, 3)
    with serving_client(trained) as client:
        pid = rank(client, trained, user_id=user, item_ids=items).json()["items"][0][
            "prediction_id"
        ]
        late_click = {
            "prediction_id": pid,
            "clicked": True,
            "dwell_ms": 1500,
            "label_time": NOW.isoformat(),
        }
        early_miss = {
            "prediction_id": pid,
            "clicked": False,
            "label_time": (NOW - timedelta(hours=1)).isoformat(),
        }
        assert post(client, trained, [late_click]).json()["written"] == 1
        stale = post(client, trained, [early_miss]).json()
        assert (stale["joined"], stale["written"], stale["stale"]) == (1, 0, 1)
        # Two labels for one prediction in one request: the newest wins.
        both = post(
            client,
            trained,
            [
                early_miss,
                {
                    **late_click,
                    "label_time": (NOW + timedelta(minutes=1)).isoformat(),
                    "clicked": False,
                },
            ],
        ).json()
        assert both["written"] == 1
    with trained.engine.connect() as conn:
        clicked = conn.execute(
            text("SELECT clicked FROM prediction_labels WHERE prediction_id = :p"), {"p": pid}
        ).scalar_one()
        audit = conn.execute(
            text(
                "SELECT actor, payload FROM audit_events WHERE action = 'labels.record' "
                "ORDER BY seq DESC LIMIT 1"
            )
        ).one()
    assert clicked is False
    assert audit.actor == "ranker-producer" and audit.payload["after"]["written"] == 1


@pytest.mark.parametrize(
    ("label", "field", "rule"),
    [
        ({"clicked": True, "label_time": NOW.isoformat()}, "labels.0", "value_error"),
        (
            {
                "prediction_id": str(uuid.uuid4()),
                "request_id": str(uuid.uuid4()),
                "item_id": "i",
                "clicked": True,
                "label_time": NOW.isoformat(),
            },
            "labels.0",
            "value_error",
        ),
        (
            {"request_id": str(uuid.uuid4()), "clicked": True, "label_time": NOW.isoformat()},
            "labels.0",
            "value_error",
        ),
        (
            {
                "prediction_id": str(uuid.uuid4()),
                "clicked": True,
                "label_time": "2026-11-23T10:00:00",
            },
            "labels.0.label_time",
            "timezone_aware",
        ),
        (
            {"prediction_id": str(uuid.uuid4()), "label_time": NOW.isoformat()},
            "labels.0.clicked",
            "missing",
        ),
        (
            {"prediction_id": "nope", "clicked": True, "label_time": NOW.isoformat()},
            "labels.0.prediction_id",
            "uuid_parsing",
        ),
        (
            {
                "prediction_id": str(uuid.uuid4()),
                "clicked": True,
                "dwell_ms": -1,
                "label_time": NOW.isoformat(),
            },
            "labels.0.dwell_ms",
            "greater_than_equal",
        ),
        (
            {
                "prediction_id": str(uuid.uuid4()),
                "clicked": True,
                "label_time": (NOW + timedelta(days=1)).isoformat(),
            },
            "labels[0].label_time",
            "not_in_future",
        ),
    ],
)
def test_bad_labels_are_refused_whole_with_the_field_and_rule(
    trained: Trained, label: dict[str, Any], field: str, rule: str
) -> None:
    with serving_client(trained) as client:
        resp = post(client, trained, [label])
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert (resp.json()["field"], resp.json()["rule"]) == (field, rule)


def test_labels_need_a_producer_and_a_non_empty_list(trained: Trained) -> None:
    with serving_client(trained) as client:
        label = {"prediction_id": str(uuid.uuid4()), "clicked": True, "label_time": NOW.isoformat()}
        assert post(client, trained, [label], role="viewer").status_code == 403
        assert post(client, trained, [label], role="admin").status_code == 200
        empty = post(client, trained, [])
        assert empty.status_code == 422 and empty.json()["rule"] == "too_short"
