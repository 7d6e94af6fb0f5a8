"""The ranker's share of `driftgate demo`: on a database with no ranker yet, the last two days
of the synthetic feed posted through the contracts, a small champion and a newer candidate,
so `driftgate run --demo` has a promotion request for a reviewer to decide.

Everything goes through the paths `driftgate ranker train` takes (`post_feed`, then
`train_and_register`, whose first version is crowned as the first champion of the model);
only the network is smaller. Once the model has any version this adds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from cli.context import CliContext
from core.clock import utcnow
from core.db import unit_of_work
from ranker.demo_world import CHAMPION_HOURS, DemoWindows, demo_windows, small_train_config

if TYPE_CHECKING:
    from governance.flows import TrainOutcome


def seed_ranker(ctx: CliContext, echo: Callable[[str], None]) -> None:
    """Post the feed, train the champion and the candidate: only when no version exists."""
    from governance.registry import repository as registry

    model = ctx.settings.ranker_model_name
    with unit_of_work(ctx.sessions) as session:
        versions = registry.list_versions(session, model, limit=1000, offset=0)
        alias = registry.get_alias(session, model)
    if versions:
        champion = f"champion v{alias.version}" if alias else "no champion"
        echo(
            f"ranker: model {model!r} has {len(versions)} version(s), {champion}; nothing to train"
        )
        return
    began = time.monotonic()
    echo(
        f"ranker: model {model!r} has no version yet, so the demo trains a small champion and a "
        "candidate (first run only, about a minute; `driftgate demo --no-ranker` skips it)"
    )
    windows = demo_windows(utcnow())
    _post_feed(ctx, windows, echo)
    _train(ctx, windows, echo)
    echo(f"ranker: seeded in {time.monotonic() - began:.0f} s")


def _post_feed(ctx: CliContext, w: DemoWindows, echo: Callable[[str], None]) -> None:
    """The windows' hours of the feed, unless a feed run already covers them (a resumed seed)."""
    from cli.ranker_cmd import post_feed_with_progress
    from ranker import repository as ranker_repo
    from ranker.feed_config import FeedConfig

    with unit_of_work(ctx.sessions) as session:
        if ranker_repo.feed_runs_overlapping(session, start=w.start, end=w.end):
            echo("  the synthetic feed of these hours is already posted")
            return
    echo(
        f"  posting the last {w.hours} hours of the synthetic feed ({w.start:%Y-%m-%d %H:%M} "
        f".. {w.end:%Y-%m-%d %H:%M} UTC, impressions and clicks) through the contracts …"
    )
    posted = post_feed_with_progress(
        ctx, config=FeedConfig(), origin=w.origin, start=w.start, end=w.end
    )
    echo(
        f"  feed run {posted.run_id}: {len(posted.batch_ids)} batches {posted.statuses}, "
        f"accepted rows {posted.rows}"
    )


def _train(ctx: CliContext, w: DemoWindows, echo: Callable[[str], None]) -> None:
    """The champion on the first hours, then the candidate on all of them."""
    for role, end, hours in (
        ("champion", w.champion_end, f"the first {CHAMPION_HOURS}"),
        ("candidate", w.end, f"all {w.hours}"),
    ):
        echo(f"  training the {role} on {hours} hours …")
        outcome = _train_one(ctx, role, w.start, end)
        auc = (outcome.metrics.get("model") or {}).get("auc")
        echo(
            f"  registered {outcome.model_name} v{outcome.version} (test AUC "
            f"{'n/a' if auc is None else f'{auc:.3f}'}); champion v{outcome.champion}"
        )


def _train_one(ctx: CliContext, role: str, start: datetime, end: datetime) -> TrainOutcome:
    """`ranker train`'s flow on the posted feed, with the small network and a spinner."""
    from cli.progress import spinner
    from governance.flows import train_and_register

    with spinner(f"training the {role}") as retitle:
        return train_and_register(
            ctx.sessions,
            ctx.operator,
            model_name=ctx.settings.ranker_model_name,
            start=start,
            end=end,
            data_dir=ctx.settings.data_dir,
            generate=False,
            train_config=small_train_config(),
            on_epoch=lambda e, most: retitle(
                f"training the {role}: epoch {int(e['epoch'])} of at most {most}"
            ),
        )
