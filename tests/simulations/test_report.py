"""The report: a Markdown table with a row per scenario, a PNG plot and the raw figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulations.measure import RunResult, summarize
from simulations.report import COLUMNS, table, write

T0 = datetime(2026, 11, 4, tzinfo=UTC)


def _run(scenario: str, seed: int, detect_min: float | None) -> dict[str, object]:
    r = RunResult(scenario, seed, "cycle", injected_at=T0, first_bad_arrival=T0)
    r.rows_posted = r.rows_accepted = 1000
    if detect_min is not None:
        r.first_alert_at = T0 + timedelta(minutes=detect_min)
        r.resolved_at = T0 + timedelta(minutes=detect_min + 90)
    r.alerts = [
        {
            "slo": "impressions-drift",
            "severity": "ticket",
            "state": "resolved",
            "fired_at": T0 - timedelta(hours=1),
            "resolved_at": T0,
            "summary": "a clean-hour ticket",
        }
    ]
    return r.to_json()


def _doc() -> dict[str, object]:
    runs = [_run("null_spike", s, m) for s, m in enumerate([60, 61, 75])]
    runs += [_run("label_outage", s, m) for s, m in enumerate([None, 130])]
    rows = [
        summarize(name, "cycle", [r for r in runs if r["scenario"] == name])
        for name in ("null_spike", "label_outage")
    ]
    return {
        "seeds": 3,
        "scenarios": rows,
        "runs": runs,
        "wall_seconds": 1.0,
        "template_seconds": 0.5,
    }


def test_writes_markdown_png_and_json_and_the_table_parses(tmp_path: Path) -> None:
    doc = _doc()
    md, png, raw = write(doc, tmp_path / "incidents", name="report")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert json.loads(raw.read_text())["scenarios"][0]["scenario"] == "null_spike"
    text = md.read_text()
    assert f"]({png.name})" in text
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header, *rows = ([c.strip() for c in line.strip().strip("|").split("|")] for line in lines)
    assert header == list(COLUMNS)
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_name["null_spike"]["detected"] == "3/3"
    assert by_name["null_spike"]["MTTD median / p90 / min / max (min)"] == "61 / 72 / 60 / 75"
    assert by_name["label_outage"]["detected"] == "1/2"
    assert by_name["label_outage"]["lost"] == "0"
    # an alert before the injection is a false alarm, listed with its summary
    assert "a clean-hour ticket" in text
    assert table(doc).count("\n") == 3
