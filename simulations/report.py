"""The simulation report: a Markdown table of each scenario's distributions and a PNG of its
time to detect and to resolve, written under `docs/incidents/` (matplotlib, imported here
only, on the Agg backend so no display is needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COLUMNS = (
    "scenario",
    "expect",
    "detected",
    "MTTD median / p90 / min / max (min)",
    "alert / signal after ingest median (min)",
    "TTM median (min)",
    "MTTR median / p90 (min)",
    "rows posted",
    "quarantined",
    "lost",
    "false alarms",
    "incidents",
    "postmortems",
)


def _m(value: float | None) -> str:
    return "-" if value is None else f"{value / 60:.0f}"


def table(doc: dict[str, Any]) -> str:
    """The per-scenario table (Markdown) the CLI prints and the report holds."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in doc["scenarios"]:
        d, a, t, r = row["mttd"], row["detect_after_ingest"], row["time_to_mitigate"], row["mttr"]
        sig = row["signal_after_ingest"]
        cells = [
            row["scenario"],
            row["detection"],
            f"{row['detected']}/{row['seeds']}",
            " / ".join(_m(d[k]) for k in ("median", "p90", "min", "max")),
            f"{_m(a['median'])} / {_m(sig['median'])}",
            _m(t["median"]),
            f"{_m(r['median'])} / {_m(r['p90'])}",
            str(row["rows_posted"]),
            str(row["rows_quarantined"]),
            str(row["rows_lost"]),
            str(row["false_alarms"]),
            str(row["incidents"]),
            str(row["postmortems"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: Path) -> None:
    """MTTD and MTTR per scenario: each seed a dot, the median a bar (minutes, log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row["scenario"] for row in doc["scenarios"]]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    for offset, key, color, label in (
        (-0.2, "mttd_seconds", "tab:blue", "time to detect"),
        (0.2, "mttr_seconds", "tab:orange", "time to resolve"),
    ):
        medians = []
        for i, name in enumerate(names):
            values = [r[key] / 60 for r in doc["runs"] if r["scenario"] == name and r[key]]
            medians.append(sorted(values)[len(values) // 2] if values else 0)
            ax.scatter([i + offset] * len(values), values, color=color, s=14, zorder=3)
        ax.bar(
            [i + offset for i in range(len(names))],
            medians,
            0.38,
            color=color,
            alpha=0.35,
            label=f"{label} (median; dots: seeds)",
        )
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("minutes after injection")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_title(f"Incident simulations, {doc['seeds']} seed(s) per scenario")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(doc: dict[str, Any], directory: Path, *, name: str = "simulations") -> list[Path]:
    """`<name>.md`, `<name>.png` and `<name>.json` under `directory`; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    md, png, raw = (directory / f"{name}.{ext}" for ext in ("md", "png", "json"))
    plot(doc, png)
    raw.write_text(json.dumps(doc, indent=1, default=str))
    md.write_text(_markdown(doc, png.name, raw.name))
    return [md, png, raw]


def _markdown(doc: dict[str, Any], png: str, raw: str) -> str:
    at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    alarms = [
        f"- {r['scenario']} seed {r['seed']}: {a['slo']} {a['severity']} fired {a['fired_at']}"
        f" — {a['summary']}" + (f" ({a['why']})" if a.get("why") else "")
        for r in doc["runs"]
        for a in r["alerts"]
        if a.get("fired_at") and (r["injected_at"] is None or a["fired_at"] < r["injected_at"])
    ]
    return "\n".join(
        [
            "# Incident simulation report",
            "",
            f"Written {at} by `driftgate simulate`; {doc['seeds']} seed(s) per scenario, "
            f"wall time {doc['wall_seconds']} s (template {doc['template_seconds']} s). "
            'Times are simulated minutes after the injection; "after ingest" counts from '
            "the first bad batch's arrival. How each figure is measured: "
            "[docs/simulations.md](../simulations.md).",
            "",
            table(doc),
            "",
            f"![MTTD and MTTR per scenario]({png})",
            "",
            "## Alerts before any injection (false alarms)",
            "",
            *(alarms or ["None."]),
            "",
            f"Every run's figures: [{raw}]({raw}).",
            "",
        ]
    )
