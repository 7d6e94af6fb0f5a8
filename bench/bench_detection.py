"""Drift detection quality: driftgate's verdict next to scipy on raw rows and Evidently.

In the style of Rabanser et al. 2019 ("Failing Loudly") and the Jenga corruption types: a
reference of `--ref-batches` batches (profiled one by one and merged, as the service does)
and current batches that are clean or carry one corruption in one field. Every detector sees
exactly the same rows:

- driftgate: each batch profiled by `checks.profile.profile_frame`, compared with the merged
  reference profile by `monitors.drift.compare.compare_window` with the contract's default
  monitoring; a batch is *flagged* when the dataset verdict is `alert`.
- scipy on raw rows: `ks_2samp` per numeric field (non-null values), `chi2_contingency` per
  categorical field, Bonferroni across the fields at a family-wise `--alpha` (default 0.01,
  the clean-data target); flagged when any field is significant.
- Evidently `DataDriftPreset()` with its defaults on pandas frames (a subset of sizes and
  seeds: it is slow); flagged when any column is drifted by its per-column default test, and,
  separately, when its dataset drift fires (share of drifted columns >= 0.5).

Fields: five numeric (normal, lognormal, exponential, uniform, Poisson integers) and three
categorical of 10, 50 and 5,000 levels with Zipf-like frequencies. Corruptions: Gaussian noise,
mean shift, unit change on a share of rows, missing values at random and not at random, swaps of
two categories' frequencies, new categories, two columns swapped, and gradual drift (a mean
shift growing by `--gradual-step` sd per batch, first flagged step per detector).

    .venv/bin/python bench/bench_detection.py                      # the full table
    .venv/bin/python bench/bench_detection.py --sizes 200 5000 --seeds 5 --clean-seeds 20
    .venv/bin/python bench/bench_detection.py --json out.json --markdown out.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.profile import profile_frame
from contracts.spec import ContractSpec
from monitors.drift.compare import DriftPolicy, WindowDrift, compare_window, monitored_fields
from monitors.drift.profiles import FieldProfile, merge_window

NUMERIC = ("normal", "lognormal", "exponential", "uniform", "poisson")
CATEGORICAL = {"cat10": 10, "cat50": 50, "cat5000": 5000}
FIELDS = (*NUMERIC, *CATEGORICAL)
SIZES = (200, 1_000, 5_000, 20_000, 100_000)

Frame = dict[str, np.ndarray]  # column -> values; floats use NaN as "missing" until framed


def category_weights(levels: int) -> np.ndarray:
    """Zipf-like frequencies (exponent 0.8): a head, a long middle and a thin tail."""
    w = 1.0 / np.arange(1, levels + 1) ** 0.8
    return w / w.sum()


WEIGHTS = {name: category_weights(k) for name, k in CATEGORICAL.items()}
LABELS = {name: np.array([f"{name[3:]}_{i}" for i in range(k)]) for name, k in CATEGORICAL.items()}


def clean(n: int, rng: np.random.Generator) -> Frame:
    """n clean rows of every field."""
    cols: Frame = {
        "normal": rng.normal(50.0, 10.0, n),
        "lognormal": rng.lognormal(3.0, 0.6, n),
        "exponential": rng.exponential(5.0, n),
        "uniform": rng.uniform(0.0, 100.0, n),
        "poisson": rng.poisson(20.0, n).astype(np.float64),
    }
    for name, w in WEIGHTS.items():
        cols[name] = rng.choice(len(w), n, p=w)  # category codes; labels applied when framed
    return cols


# --- corruptions: (frame, rng, magnitude) -> frame, each on one field -------------------------


def gaussian_noise(cols: Frame, rng: np.random.Generator, sigma: float) -> Frame:
    cols["normal"] = cols["normal"] + rng.normal(0.0, sigma * 10.0, cols["normal"].size)
    return cols


def mean_shift(cols: Frame, rng: np.random.Generator, sd: float) -> Frame:
    cols["normal"] = cols["normal"] + sd * 10.0
    return cols


def unit_change(cols: Frame, rng: np.random.Generator, share: float) -> Frame:
    """Seconds reported as milliseconds on a share of rows."""
    hit = rng.random(cols["exponential"].size) < share
    cols["exponential"] = np.where(hit, cols["exponential"] * 1000.0, cols["exponential"])
    return cols


def missing_at_random(cols: Frame, rng: np.random.Generator, share: float) -> Frame:
    hit = rng.random(cols["uniform"].size) < share
    cols["uniform"] = np.where(hit, np.nan, cols["uniform"])
    return cols


def missing_not_at_random(cols: Frame, rng: np.random.Generator, share: float) -> Frame:
    """The largest values go missing (a sensor that saturates, a join that drops big items)."""
    v = cols["lognormal"]
    cut = np.quantile(v, 1.0 - share)
    cols["lognormal"] = np.where(v > cut, np.nan, v)
    return cols


def frequency_swap(field: str, rank: int) -> Callable[[Frame, np.random.Generator, float], Frame]:
    """Relabel a share of the top category's and the rank-th category's rows as each other."""

    def corrupt(cols: Frame, rng: np.random.Generator, share: float) -> Frame:
        c = cols[field].copy()
        flip = rng.random(c.size) < share
        a, b = (c == 0) & flip, (c == rank) & flip
        c[a], c[b] = rank, 0
        cols[field] = c
        return cols

    return corrupt


def new_categories(cols: Frame, rng: np.random.Generator, share: float) -> Frame:
    """A share of rows carry categories the reference never saw (codes past the last level)."""
    c = cols["cat10"].copy()
    hit = rng.random(c.size) < share
    c[hit] = 10 + rng.integers(0, 3, int(hit.sum()))
    cols["cat10"] = c
    return cols


def columns_swapped(cols: Frame, rng: np.random.Generator, _: float) -> Frame:
    cols["normal"], cols["uniform"] = cols["uniform"], cols["normal"]
    return cols


@dataclass(frozen=True)
class Scenario:
    name: str
    field: str
    corrupt: Callable[[Frame, np.random.Generator, float], Frame]
    magnitudes: tuple[float, ...]
    unit: str


SCENARIOS = (
    Scenario("gaussian_noise", "normal", gaussian_noise, (0.1, 0.5, 1.0), "sd"),
    Scenario("mean_shift", "normal", mean_shift, (0.1, 0.25, 0.5, 1.0), "sd"),
    Scenario("unit_change", "exponential", unit_change, (0.1, 0.5, 1.0), "of rows"),
    Scenario("missing_at_random", "uniform", missing_at_random, (0.1, 0.25, 0.5), "of rows"),
    Scenario("missing_not_at_random", "lognormal", missing_not_at_random, (0.1, 0.25, 0.5), "top"),
    Scenario("swap_cat10", "cat10", frequency_swap("cat10", 4), (0.25, 1.0), "of rows"),
    Scenario("swap_cat50", "cat50", frequency_swap("cat50", 9), (0.25, 1.0), "of rows"),
    Scenario("swap_cat5000", "cat5000", frequency_swap("cat5000", 99), (0.25, 1.0), "of rows"),
    Scenario("new_categories", "cat10", new_categories, (0.01, 0.05, 0.2), "of rows"),
    Scenario("columns_swapped", "normal", columns_swapped, (1.0,), ""),
)


# --- framing and the contract ---------------------------------------------------------------


def to_frame(cols: Frame) -> pl.DataFrame:
    """Numbers with NaN as null (the service conforms missing numbers to nulls), labels."""
    out: dict[str, pl.Series] = {}
    for name in NUMERIC:
        v = cols[name]
        s = pl.Series(name, v).fill_nan(None)
        out[name] = s.cast(pl.Int64) if name == "poisson" else s
    for name in CATEGORICAL:
        codes = cols[name]
        labels = np.where(
            codes < len(LABELS[name]),
            LABELS[name][np.minimum(codes, len(LABELS[name]) - 1)],
            np.char.add(f"{name[3:]}_new_", codes.astype(str)),
        )
        out[name] = pl.Series(name, labels)
    return pl.DataFrame(out)


def contract() -> ContractSpec:
    fields: list[dict[str, Any]] = [
        {"name": n, "type": "integer" if n == "poisson" else "float"} for n in NUMERIC
    ]
    fields += [{"name": n, "type": "category"} for n in CATEGORICAL]
    return ContractSpec.model_validate(
        {"id": "bench", "version": "1.0.0", "owner": "bench", "dataset": "bench", "fields": fields}
    )


# --- detectors ----------------------------------------------------------------------------------


@dataclass
class Reference:
    frame: pl.DataFrame
    profile: dict[str, FieldProfile]
    pandas: Any = None


class Driftgate:
    name = "driftgate"

    def __init__(self, spec: ContractSpec) -> None:
        self.spec, self.fields, self.policy = spec, monitored_fields(spec), DriftPolicy()

    def reference(self, batches: list[pl.DataFrame]) -> dict[str, FieldProfile]:
        docs = [profile_frame(b, self.spec) for b in batches]
        return merge_window((k, v) for doc in docs for k, v in doc.items())

    def verdict(self, ref: Reference, cur: pl.DataFrame) -> WindowDrift:
        current = merge_window(profile_frame(cur, self.spec).items())
        return compare_window(ref.profile, current, self.fields, self.policy, rows=cur.height)

    def flags(self, ref: Reference, cur: pl.DataFrame) -> tuple[bool, list[str]]:
        w = self.verdict(ref, cur)
        return w.verdict == "alert", sorted(k for k, f in w.fields.items() if f.severity == "alert")


class Scipy:
    """KS / chi-square per field on raw rows; a batch's score is its smallest Bonferroni p."""

    name = "scipy"

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def min_p(self, ref: Reference, cur: pl.DataFrame) -> float:
        from scipy.stats import chi2_contingency, ks_2samp

        p: dict[str, float] = {}
        for c in NUMERIC:
            a, b = ref.frame[c].drop_nulls().to_numpy(), cur[c].drop_nulls().to_numpy()
            p[c] = float(ks_2samp(a, b).pvalue) if a.size and b.size else 1.0
        for c in CATEGORICAL:
            ra = ref.frame[c].value_counts().rename({"count": "r"})
            cb = cur[c].value_counts().rename({"count": "c"})
            table = ra.join(cb, on=c, how="full", coalesce=True).fill_null(0)
            counts = table.select("r", "c").to_numpy().T
            p[c] = float(chi2_contingency(counts, correction=False)[1])
        return min(1.0, min(p.values()) * len(p))

    def flags(self, ref: Reference, cur: pl.DataFrame, cut: float | None = None) -> bool:
        return self.min_p(ref, cur) < (self.alpha if cut is None else cut)


def matched_cut(clean_min_p: list[float], false_alarms: float) -> float:
    """The largest p cut at which scipy flags at most `false_alarms` of the clean batches."""
    ps = np.sort(np.asarray(clean_min_p))
    allowed = int(np.floor(false_alarms * ps.size + 1e-9))
    return float(ps[allowed]) if allowed < ps.size else 1.0


class Evidently:
    name = "evidently"

    def flags(self, ref: Reference, cur: pl.DataFrame) -> tuple[bool, list[str], bool]:
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(
            numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL)
        )
        if ref.pandas is None:
            ref.pandas = Dataset.from_pandas(ref.frame.to_pandas(), data_definition=definition)
        current = Dataset.from_pandas(cur.to_pandas(), data_definition=definition)
        snap = Report([DataDriftPreset()]).run(current, ref.pandas).dict()
        drifted, dataset = [], False
        for m in snap["metrics"]:
            cfg = m["config"]
            kind = str(cfg.get("type", ""))
            if kind.endswith("ValueDrift"):
                value, threshold = float(m["value"]), float(cfg["threshold"])
                p_value = "p_value" in str(cfg.get("method", ""))
                if (value < threshold) if p_value else (value >= threshold):
                    drifted.append(str(cfg["column"]))
            elif kind.endswith("DriftedColumnsCount"):
                share = float(m["value"]["share"])
                dataset = share >= float(cfg.get("drift_share", 0.5))
        return bool(drifted), sorted(drifted), dataset


# --- the runs -------------------------------------------------------------------------------------


def build_reference(dg: Driftgate, batches: int, rows: int, seed: int) -> Reference:
    parts = [to_frame(clean(rows, np.random.default_rng([seed, 0, i]))) for i in range(batches)]
    return Reference(pl.concat(parts), dg.reference(parts))


def batch(
    n: int, seed: int, cell: int, scenario: Scenario | None, magnitude: float
) -> pl.DataFrame:
    rng = np.random.default_rng([seed, 1, cell, n])
    cols = clean(n, rng)
    if scenario is not None:
        cols = scenario.corrupt(cols, rng, magnitude)
    return to_frame(cols)


def rate(hits: list[bool]) -> float:
    return sum(hits) / len(hits) if hits else float("nan")


def run_cells(
    args: argparse.Namespace, ref: Reference, dg: Driftgate, sp: Scipy
) -> list[dict[str, Any]]:
    ev = Evidently()
    cells: list[tuple[Scenario | None, float]] = [(None, 0.0)]
    cells += [(s, m) for s in SCENARIOS if s.name in args.scenarios for m in s.magnitudes]
    out: list[dict[str, Any]] = []
    for cell, (scenario, magnitude) in enumerate(cells):
        if cell == 1:
            set_cuts(args, out)
        for n in args.sizes:
            seeds = args.clean_seeds if scenario is None else args.seeds
            res: dict[str, list[bool]] = {
                "driftgate": [],
                "scipy": [],
                "evidently": [],
                "evidently_dataset": [],
            }
            scipy_p: list[float] = []
            wrong: list[int] = []  # flags by driftgate naming another field than the corrupted one
            t_dg = t_sp = t_ev = 0.0
            ev_seeds = args.evidently_seeds if n in args.evidently_sizes else 0
            for seed in range(seeds):
                cur = batch(n, args.seed + seed, cell, scenario, magnitude)
                t = time.perf_counter()
                hit, which = dg.flags(ref, cur)
                t_dg += time.perf_counter() - t
                res["driftgate"].append(hit)
                if scenario is not None and hit and scenario.field not in which:
                    wrong.append(seed)
                t = time.perf_counter()
                min_p = sp.min_p(ref, cur)
                res["scipy"].append(min_p < args.alpha)
                scipy_p.append(min_p)
                t_sp += time.perf_counter() - t
                if seed < ev_seeds:
                    t = time.perf_counter()
                    any_col, _, dataset = ev.flags(ref, cur)
                    t_ev += time.perf_counter() - t
                    res["evidently"].append(any_col)
                    res["evidently_dataset"].append(dataset)
            row = {
                "scenario": scenario.name if scenario else "clean",
                "field": scenario.field if scenario else "-",
                "magnitude": magnitude,
                "unit": scenario.unit if scenario else "",
                "rows": n,
                "seeds": seeds,
                "evidently_seeds": min(ev_seeds, seeds),
                **{k: rate(v) for k, v in res.items()},
                "driftgate_other_field": len(wrong),
                "scipy_min_p": scipy_p,
                "seconds": {"driftgate": t_dg, "scipy": t_sp, "evidently": t_ev},
            }
            if cell:
                row["scipy_matched"] = rate([p < args.cuts[n] for p in scipy_p])
            out.append(row)
            print(_line(row), flush=True)
    if len(cells) == 1:
        set_cuts(args, out)
    return out


def set_cuts(args: argparse.Namespace, clean_rows: list[dict[str, Any]]) -> None:
    """scipy's p cut per size at driftgate's clean false-alarm rate (at least 1%)."""
    args.cuts = {}
    for row in clean_rows:
        target = max(row["driftgate"], 0.01)
        args.cuts[row["rows"]] = matched_cut(row["scipy_min_p"], target)
        row["scipy_matched"] = rate([p < args.cuts[row["rows"]] for p in row["scipy_min_p"]])
        print(
            f"clean {row['rows']:>7} rows: driftgate {_pct(row['driftgate'])}%, scipy at alpha "
            f"{args.alpha}: {_pct(row['scipy'])}%; matched cut {args.cuts[row['rows']]:.3g} "
            f"flags {_pct(row['scipy_matched'])}%",
            flush=True,
        )


def gradual(
    args: argparse.Namespace, ref: Reference, dg: Driftgate, sp: Scipy
) -> list[dict[str, Any]]:
    """A mean shift growing by `gradual_step` sd per batch: the first flagged step per seed."""
    out = []
    for n in args.gradual_sizes:
        first: dict[str, list[int | None]] = {"driftgate": [], "driftgate_warn": [], "scipy": []}
        for seed in range(args.seeds):
            seen: dict[str, int | None] = {"driftgate": None, "driftgate_warn": None, "scipy": None}
            for step in range(args.gradual_steps):
                cur = batch(
                    n, args.seed + seed, 10_000 + step, SCENARIOS[1], step * args.gradual_step
                )
                if seen["driftgate"] is None:
                    verdict = dg.verdict(ref, cur).verdict
                    if verdict in ("warn", "alert") and seen["driftgate_warn"] is None:
                        seen["driftgate_warn"] = step
                    if verdict == "alert":
                        seen["driftgate"] = step
                if seen["scipy"] is None and sp.flags(ref, cur, args.cuts.get(n, args.alpha)):
                    seen["scipy"] = step
                if all(v is not None for v in seen.values()):
                    break
            for k, v in seen.items():
                first[k].append(v)
        row = {"rows": n, "step_sd": args.gradual_step, "steps": args.gradual_steps}
        for k, v in first.items():
            found = [s for s in v if s is not None]
            row[f"{k}_median_step"] = float(np.median(found)) if found else None
            row[f"{k}_never"] = len(v) - len(found)
            row[f"{k}_steps"] = v
        paired = [
            a - b
            for a, b in zip(first["driftgate"], first["scipy"], strict=True)
            if a is not None and b is not None
        ]
        row["median_lag_vs_scipy"] = float(np.median(paired)) if paired else None
        out.append(row)
        print(
            f"gradual {n:>7} rows: driftgate median step {row['driftgate_median_step']} "
            f"({_sd(row['driftgate_median_step'], args)}; warn "
            f"{_sd(row['driftgate_warn_median_step'], args)}), scipy {row['scipy_median_step']} "
            f"({_sd(row['scipy_median_step'], args)}), median lag {row['median_lag_vs_scipy']}",
            flush=True,
        )
    return out


def _sd(step: float | None, args: argparse.Namespace) -> str:
    return "never" if step is None else f"{step * args.gradual_step:.2f} sd"


def _pct(v: float) -> str:
    return "  -  " if v != v else f"{100 * v:5.1f}"


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['scenario']:<22} {row['magnitude']:>5g} {row['unit']:<8} {row['rows']:>7} rows "
        f"x{row['seeds']:<3}: driftgate {_pct(row['driftgate'])}%  scipy {_pct(row['scipy'])}% "
        f"(matched {_pct(row.get('scipy_matched', float('nan')))}%)  "
        f"evidently {_pct(row['evidently'])}% (dataset {_pct(row['evidently_dataset'])}%)"
        + (
            f"  [{row['driftgate_other_field']} flagged another field]"
            if row["driftgate_other_field"]
            else ""
        )
    )


def markdown(
    rows: list[dict[str, Any]], grad: list[dict[str, Any]], args: argparse.Namespace
) -> str:
    sizes = list(args.sizes)
    head = "| scenario | magnitude | " + " | ".join(f"{n:,} rows" for n in sizes) + " |"
    lines = [
        "Detection rate per cell, `driftgate / scipy matched (scipy at alpha) / Evidently` "
        "(% of batches flagged). scipy: KS/chi-square on raw rows, Bonferroni; *matched*: its "
        "p cut set per size so that it flags as many clean batches as driftgate (at least 1%); "
        f"*at alpha*: family-wise {args.alpha}. Evidently: any column drifted by its "
        "defaults (`-` where not run).",
        "",
        head,
        "|" + "---|" * (len(sizes) + 2),
    ]
    keyed = {(r["scenario"], r["magnitude"], r["rows"]): r for r in rows}
    order = list(dict.fromkeys((r["scenario"], r["magnitude"], r["unit"]) for r in rows))
    for scenario, magnitude, unit in order:
        cells = []
        for n in sizes:
            r = keyed.get((scenario, magnitude, n))
            cells.append(
                ""
                if r is None
                else f"{_pct(r['driftgate']).strip()} / {_pct(r['scipy_matched']).strip()} "
                f"({_pct(r['scipy']).strip()}) / {_pct(r['evidently']).strip()}"
            )
        mag = "-" if scenario == "clean" else f"{magnitude:g} {unit}".strip()
        lines.append(f"| {scenario} | {mag} | " + " | ".join(cells) + " |")
    if grad:
        lines += [
            "",
            "| gradual drift | driftgate first alert | driftgate first warn | scipy (matched) "
            "| median lag of the alert |",
            "|---|---:|---:|---:|---:|",
        ]
        for g in grad:
            lines.append(
                f"| {g['rows']:,} rows, +{g['step_sd']} sd/step | {g['driftgate_median_step']} "
                f"({_sd(g['driftgate_median_step'], args)}) | {g['driftgate_warn_median_step']} "
                f"({_sd(g['driftgate_warn_median_step'], args)}) | {g['scipy_median_step']} "
                f"({_sd(g['scipy_median_step'], args)}) | {g['median_lag_vs_scipy']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--seeds", type=int, default=20, help="seeds per corrupted cell")
    ap.add_argument("--clean-seeds", type=int, default=200, help="seeds per clean cell")
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--ref-batches", type=int, default=20)
    ap.add_argument("--ref-rows", type=int, default=5_000, help="rows per reference batch")
    ap.add_argument("--alpha", type=float, default=0.01, help="scipy's family-wise alpha")
    ap.add_argument("--scenarios", nargs="+", default=[s.name for s in SCENARIOS])
    ap.add_argument("--evidently-sizes", type=int, nargs="*", default=[1_000, 20_000])
    ap.add_argument("--evidently-seeds", type=int, default=10)
    ap.add_argument("--gradual-sizes", type=int, nargs="*", default=[1_000, 20_000])
    ap.add_argument("--gradual-step", type=float, default=0.02)
    ap.add_argument("--gradual-steps", type=int, default=60)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)

    started = time.perf_counter()
    print(f"# bench_detection on {platform.node()}, load {os.getloadavg()}, args {vars(args)}")
    dg, sp = Driftgate(contract()), Scipy(args.alpha)
    ref = build_reference(dg, args.ref_batches, args.ref_rows, args.seed)
    print(f"reference: {args.ref_batches} batches x {args.ref_rows} rows", flush=True)
    rows = run_cells(args, ref, dg, sp)
    grad = gradual(args, ref, dg, sp) if args.gradual_sizes else []
    table = markdown(rows, grad, args)
    print()
    print(table)
    print(f"# {time.perf_counter() - started:.0f} s, load {os.getloadavg()}")
    if args.markdown:
        args.markdown.write_text(table)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "cells": rows,
                    "gradual": grad,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
