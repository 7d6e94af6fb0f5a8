"""Validate a batch against a contract version: conform, evaluate rules, split, profile.

The hot path is vectorized: all row-level rules are evaluated in one parallel polars `select`,
failing-row counts in one more, and only failing rows are ever materialized for examples and
quarantine reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import polars as pl

from checks import ranges
from checks.conform import Conformed, conform, type_fail_column
from checks.profile import CATEGORY_CAP, profile_frame
from checks.rules import RowRule, row_rules
from contracts.spec import (
    Action,
    ContractSpec,
    InvalidFractionRule,
    NullFractionRule,
    RowCountRule,
    dataset_rule_id,
)

ROW_NUMBER = "_row"
RULE_IDS = "_rule_ids"
REASONS = "_reasons"


class BatchStatus(StrEnum):
    passed = "passed"
    warned = "warned"
    quarantined = "quarantined"
    rejected = "rejected"


@dataclass
class RuleOutcome:
    rule_id: str
    kind: str
    field: str | None
    action: Action
    passed: bool
    observed: Any
    threshold: Any
    failing_rows: int
    examples: list[Any]
    message: str


@dataclass
class _Pending:
    """What `complete` needs from `evaluate` to profile the accepted rows: the allowed-value
    masks count the categories."""

    rules: list[RowRule]
    masks: pl.DataFrame | None
    quarantine_mask: pl.Series


@dataclass
class Validation:
    status: BatchStatus
    rows_received: int
    outcomes: list[RuleOutcome]
    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    profile: dict[str, dict[str, Any]] = field(default_factory=dict)
    newest_event_at: datetime | None = None
    pending: _Pending | None = field(default=None, repr=False)

    @property
    def rows_accepted(self) -> int:
        return self.accepted.height

    @property
    def rows_quarantined(self) -> int:
        return self.quarantined.height


def validate(
    raw: pl.DataFrame,
    spec: ContractSpec,
    *,
    received_at: datetime,
    example_values: int = 5,
    with_profile: bool = True,
) -> Validation:
    """Run every rule of `spec` on `raw`; rows are never dropped, only accepted or quarantined."""
    result = evaluate(raw, spec, received_at=received_at, example_values=example_values)
    complete(result, spec, with_profile=with_profile)
    return result


def evaluate(
    raw: pl.DataFrame, spec: ContractSpec, *, received_at: datetime, example_values: int = 5
) -> Validation:
    """Decide every rule and split the batch; `complete` must follow (it may run while the
    caller writes the split out)."""
    conformed = conform(raw, spec)
    frame = conformed.frame
    outcomes = _schema_outcomes(conformed, spec)
    rules = row_rules(
        spec,
        type_checked=set(conformed.type_failure_columns),
        missing=set(conformed.missing_required),
    )
    # Numeric range rules are counted by a compiled pass per column (with the extremes) on a
    # thread pool, while polars evaluates every other rule in one parallel pass into a
    # bit-packed mask frame. Range rules that fail get a mask too. Counts, examples, the
    # quarantine split and per-row reasons are all read from the masks.
    ranges_decided = ranges.start(frame, rules)
    masks = _masks(frame, [r for r in rules if r.kind not in ("min", "max")])
    decided = ranges_decided()
    undecided = [r for r in rules if r.kind in ("min", "max") and r.id not in decided.counts]
    failing_ranges = [r for r in rules if decided.counts.get(r.id)]
    masks = _add_masks(frame, masks, undecided + failing_ranges)
    failing_counts = {**_failing_counts(masks, rules, decided.counts), **decided.counts}
    failing_rules = [r for r in rules if failing_counts[r.id]]
    examples = _examples(raw, frame, masks, failing_rules, example_values)
    row_outcomes = [_row_outcome(r, failing_counts[r.id], examples.get(r.id, [])) for r in rules]
    outcomes += row_outcomes
    outcomes += _dataset_outcomes(frame, spec, example_values)
    newest, freshness = _freshness_outcome(frame, spec, received_at)
    if freshness:
        outcomes.append(freshness)

    rejected = any(not o.passed and o.action == Action.reject for o in outcomes)
    q_rules = [r for r in rules if r.action == Action.quarantine and failing_counts[r.id]]
    if rejected:
        quarantine_mask = pl.repeat(True, frame.height, eager=True)
    elif q_rules and masks is not None:
        quarantine_mask = masks.select(pl.any_horizontal([r.id for r in q_rules])).to_series()
    else:
        quarantine_mask = pl.repeat(False, frame.height, eager=True)
    batch_reasons = [
        f"batch rejected: {o.rule_id}"
        for o in outcomes
        if not o.passed and o.action == Action.reject
    ]
    quarantined = _quarantine(raw, masks, quarantine_mask, failing_rules, batch_reasons)
    accepted = _accepted(frame, conformed, quarantine_mask, quarantined.height)
    status = _status(outcomes, rejected, quarantined.height)
    observed = {**_extremes(frame, undecided), **decided.observed}
    for outcome in row_outcomes:
        if outcome.rule_id in observed:
            outcome.observed = observed[outcome.rule_id]
    pending = _Pending(rules, masks, quarantine_mask)
    return Validation(
        status, raw.height, outcomes, accepted, quarantined, {}, newest, pending=pending
    )


def complete(
    result: Validation,
    spec: ContractSpec,
    *,
    with_profile: bool = True,
    category_cap: int = CATEGORY_CAP,
) -> None:
    """Profile the accepted rows (unless `with_profile` is false); the masks are let go."""
    p = result.pending
    if p is None:
        raise ValueError("this validation is already complete")
    if with_profile:
        counts = _accepted_value_counts(result.accepted, p.rules, p.masks, p.quarantine_mask)
        result.profile = profile_frame(
            result.accepted, spec, value_counts=counts, category_cap=category_cap
        )
    result.pending = None


def _accepted_value_counts(
    accepted: pl.DataFrame,
    rules: list[RowRule],
    masks: pl.DataFrame | None,
    quarantine_mask: pl.Series,
) -> dict[str, dict[Any, int]]:
    """Counts of each allowed value among the accepted rows, from the rules' equality masks.

    Only where they account for every accepted non-null value: when a warn-only rule let
    other values through, the profile counts that column itself.
    """
    wanted = [r for r in rules if r.value_parts and r.field in accepted.columns]
    if masks is None or not wanted or accepted.height == 0:
        return {}
    kept = ~quarantine_mask
    exprs = [(pl.col(name) & kept).sum().alias(name) for r in wanted for _, name in r.value_parts]
    sums = masks.select(exprs).row(0, named=True)
    out: dict[str, dict[Any, int]] = {}
    for r in wanted:
        counts = {value: int(sums[name]) for value, name in r.value_parts}
        column = accepted.get_column(r.field)  # type: ignore[arg-type]
        if sum(counts.values()) == column.len() - column.null_count():
            out[r.field] = counts  # type: ignore[index]
    return out


def _status(outcomes: list[RuleOutcome], rejected: bool, n_quarantined: int) -> BatchStatus:
    if rejected:
        return BatchStatus.rejected
    if n_quarantined:
        return BatchStatus.quarantined
    if any(not o.passed for o in outcomes):
        return BatchStatus.warned
    return BatchStatus.passed


def _schema_outcomes(c: Conformed, spec: ContractSpec) -> list[RuleOutcome]:
    out = [
        RuleOutcome(
            f"{name}.present",
            "schema",
            name,
            spec.policy.schema_,
            False,
            "missing",
            "present",
            c.frame.height,
            [],
            f"required column {name} is missing",
        )
        for name in c.missing_required
    ]
    out.append(
        RuleOutcome(
            "schema.extra_columns",
            "schema",
            None,
            spec.policy.extra_columns
            if spec.policy.extra_columns != Action.quarantine
            else Action.warn,
            not c.extra_columns,
            c.extra_columns,
            [],
            0,
            c.extra_columns[:20],
            f"columns not in the contract: {c.extra_columns}"
            if c.extra_columns
            else "no extra columns",
        )
    )
    return out


def _masks(frame: pl.DataFrame, rules: list[RowRule]) -> pl.DataFrame | None:
    """One boolean column per rule, true where a row breaks it (null counts as passing).

    Rules built from parts get their parts' columns too (named `<rule id>\x1f<label>`): the
    parts are computed with everything else in the one pass over the batch, then combined.
    """
    if not rules:
        return None
    first = [r.failing.fill_null(False).alias(r.id) for r in rules if not r.parts]
    first += [part.fill_null(False).alias(name) for r in rules for name, part in r.parts]
    masks = frame.select(first)
    combined = [r.failing.alias(r.id) for r in rules if r.parts]
    return masks.with_columns(combined) if combined else masks


def _add_masks(
    frame: pl.DataFrame, masks: pl.DataFrame | None, rules: list[RowRule]
) -> pl.DataFrame | None:
    more = _masks(frame, rules)
    if more is None:
        return masks
    return more if masks is None else masks.hstack(more.get_columns())


def _failing_counts(
    masks: pl.DataFrame | None, rules: list[RowRule], known: dict[str, int]
) -> dict[str, int]:
    """Failing rows per rule not in `known`, from its mask."""
    wanted = [r for r in rules if r.id not in known]
    if masks is None or not wanted:
        return {}
    row = masks.select([pl.col(r.id).sum() for r in wanted]).row(0, named=True)
    return {r.id: int(row[r.id] or 0) for r in wanted}


def _extremes(frame: pl.DataFrame, rules: list[RowRule]) -> dict[str, Any]:
    """The observed value of min/max rules: the column's extreme over the whole batch."""
    if not rules:
        return {}
    return frame.select([_extreme_expr(r) for r in rules]).row(0, named=True)


def _extreme_expr(r: RowRule) -> pl.Expr:
    c = pl.col(r.field)  # type: ignore[arg-type]
    return (c.min() if r.kind == "min" else c.max()).alias(r.id)


def _examples(
    raw: pl.DataFrame,
    frame: pl.DataFrame,
    masks: pl.DataFrame | None,
    failing: list[RowRule],
    k: int,
) -> dict[str, list[Any]]:
    """Up to k example values (or rows) per failing rule, from the first rows that break it.

    The positions of all rules come from one parallel `select` over the mask frame; only the
    picked rows of the example columns are then read. A `type` rule shows the raw values as
    sent: after conform they are null, which would tell the producer nothing.
    """
    if not k or masks is None or not failing:
        return {}
    positions = masks.select([pl.col(r.id).arg_true().head(k).implode() for r in failing]).row(
        0, named=True
    )
    out: dict[str, list[Any]] = {}
    for r in failing:
        source = raw if r.kind == "type" else frame
        picked = source.select(r.example_columns)[positions[r.id]]
        out[r.id] = (
            picked.get_column(r.example_columns[0]).to_list()
            if len(r.example_columns) == 1
            else picked.rows(named=True)
        )
    return out


def _row_outcome(r: RowRule, failing: int, examples: list[Any]) -> RuleOutcome:
    return RuleOutcome(
        r.id,
        r.kind,
        r.field,
        r.action,
        failing == 0,
        failing,
        r.threshold,
        failing,
        examples,
        r.reason if failing else "ok",
    )


def _dataset_outcomes(frame: pl.DataFrame, spec: ContractSpec, k: int) -> list[RuleOutcome]:
    out: list[RuleOutcome] = []
    n = frame.height
    for rule in spec.dataset_rules:
        action = rule.severity or spec.policy.dataset
        rid = dataset_rule_id(rule)
        if isinstance(rule, RowCountRule):
            ok = (rule.min is None or n >= rule.min) and (rule.max is None or n <= rule.max)
            out.append(
                RuleOutcome(
                    rid,
                    "row_count",
                    None,
                    action,
                    ok,
                    n,
                    {"min": rule.min, "max": rule.max},
                    0 if ok else n,
                    [],
                    "ok" if ok else f"{n} rows is outside the allowed range",
                )
            )
        elif isinstance(rule, NullFractionRule):
            nulls = frame.get_column(rule.field).null_count()
            failed = type_fail_column(rule.field)
            if failed in frame.columns:  # unparseable values are type violations, not nulls
                nulls -= int(frame.get_column(failed).sum())
            frac = nulls / n if n else 0.0
            ok = frac <= rule.max
            out.append(
                RuleOutcome(
                    rid,
                    "null_fraction",
                    rule.field,
                    action,
                    ok,
                    round(frac, 6),
                    rule.max,
                    0 if ok else nulls,
                    [],
                    "ok" if ok else f"null fraction {frac:.4f} exceeds {rule.max}",
                )
            )
        elif isinstance(rule, InvalidFractionRule):
            out.append(_invalid_fraction_outcome(frame, rule, rid, action, k))
    return out


def _invalid_fraction_outcome(
    frame: pl.DataFrame, rule: InvalidFractionRule, rid: str, action: Action, k: int
) -> RuleOutcome:
    """Count non-null values outside the valid set or pattern against the tolerance."""
    c = pl.col(rule.field)
    if isinstance(frame.schema[rule.field], pl.Categorical | pl.Enum):
        c = c.cast(pl.String)  # dictionary-encoded text: compare the values
    bad = pl.lit(False)
    if rule.allowed_values is not None:
        bad = bad | ~c.is_in(rule.allowed_values)
    if rule.pattern is not None:
        bad = bad | ~c.str.contains(rule.pattern)
    bad = (c.is_not_null() & bad).fill_null(False)
    n = frame.height
    invalid = int(frame.select(bad.sum()).item() or 0)
    observed: Any
    limit: Any
    if rule.max is not None:
        share = invalid / n if n else 0.0
        observed, ok, limit = round(share, 6), share <= rule.max, rule.max
        why = f"invalid share {observed:.4f} exceeds {rule.max}"
    else:
        observed, ok, limit = invalid, invalid <= (rule.max_rows or 0), rule.max_rows
        why = f"{invalid} invalid rows is more than {rule.max_rows}"
    examples = frame.filter(bad).get_column(rule.field).head(k).to_list() if k and not ok else []
    return RuleOutcome(
        rid,
        "invalid_fraction",
        rule.field,
        action,
        ok,
        observed,
        limit,
        0 if ok else invalid,
        examples,
        "ok" if ok else why,
    )


def _freshness_outcome(
    frame: pl.DataFrame, spec: ContractSpec, received_at: datetime
) -> tuple[datetime | None, RuleOutcome | None]:
    fr = spec.freshness
    if fr is None:
        return None, None
    newest = frame.get_column(fr.field).max()
    if newest is not None and not isinstance(newest, datetime):
        newest = datetime.combine(newest, datetime.min.time(), tzinfo=received_at.tzinfo)  # type: ignore[arg-type]
    action = fr.severity or spec.policy.freshness
    limit = fr.max_lag_delta.total_seconds()
    if newest is None:
        return None, RuleOutcome(
            "freshness",
            "freshness",
            fr.field,
            action,
            False,
            None,
            limit,
            0,
            [],
            "no timestamps to measure freshness",
        )
    lag = (received_at - newest).total_seconds()
    ok = lag <= limit
    return newest, RuleOutcome(
        "freshness",
        "freshness",
        fr.field,
        action,
        ok,
        round(lag, 3),
        limit,
        0,
        [],
        "ok" if ok else f"newest row lags {lag:.0f}s behind, more than the SLA of {limit:.0f}s",
    )


def _quarantine(
    raw: pl.DataFrame,
    masks: pl.DataFrame | None,
    quarantine_mask: pl.Series,
    failing_rules: list[RowRule],
    batch_reasons: list[str],
) -> pl.DataFrame:
    """Quarantined rows keep their original values, with rule ids and reasons per row.

    Which rules a row broke is packed into one integer per row (a bit per failing rule); the
    few distinct combinations are turned into id lists and reason strings once each and
    joined back, so no list is built row by row.
    """
    if not quarantine_mask.any():
        return (
            raw.with_columns(pl.lit(0, dtype=pl.UInt32).alias(ROW_NUMBER))
            .clear()
            .with_columns(
                pl.lit(None, dtype=pl.List(pl.String)).alias(RULE_IDS),
                pl.lit(None, dtype=pl.String).alias(REASONS),
            )
        )
    # Gathering the few failing rows by position beats a filter, which scans the whole mask
    # once per column (measured: 5 ms against 8.5 ms for 23 columns at 1M rows, 3.5% failing).
    where = quarantine_mask.arg_true()
    rows = raw[where].with_columns(where.cast(pl.UInt32).alias(ROW_NUMBER))
    if masks is None or not failing_rules:  # rejected for dataset-level reasons only
        return rows.with_columns(
            pl.lit([], dtype=pl.List(pl.String)).alias(RULE_IDS),
            pl.lit("; ".join(batch_reasons), dtype=pl.String).alias(REASONS),
        )
    chunks = [failing_rules[i : i + 63] for i in range(0, len(failing_rules), 63)]
    keys = [
        pl.sum_horizontal(
            [pl.col(r.id).cast(pl.UInt64) * (1 << i) for i, r in enumerate(chunk)]
        ).alias(f"_k{n}")
        for n, chunk in enumerate(chunks)
    ]
    key_frame = masks.filter(quarantine_mask).select(keys)
    combos = key_frame.unique()
    ids_col, reasons_col = [], []
    for combo in combos.iter_rows():
        hit = [
            r for n, chunk in enumerate(chunks) for i, r in enumerate(chunk) if combo[n] >> i & 1
        ]
        ids_col.append([r.id for r in hit])
        reasons_col.append("; ".join([f"{r.id}: {r.reason}" for r in hit] + batch_reasons))
    lookup = combos.with_columns(
        pl.Series(RULE_IDS, ids_col, dtype=pl.List(pl.String)),
        pl.Series(REASONS, reasons_col, dtype=pl.String),
    )
    labels = key_frame.join(lookup, on=key_frame.columns, how="left", maintain_order="left")
    return pl.concat([rows, labels.select(RULE_IDS, REASONS)], how="horizontal")


def _accepted(
    frame: pl.DataFrame, c: Conformed, quarantine_mask: pl.Series, n_quarantined: int
) -> pl.DataFrame:
    helper = [f"__type_fail__{name}" for name in c.type_failure_columns]
    kept = frame.drop(helper) if helper else frame
    if n_quarantined == 0:
        return kept  # the common case: no copy
    if n_quarantined == kept.height:
        return kept.clear()
    return kept.filter(~quarantine_mask)
