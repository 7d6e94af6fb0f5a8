"""One ranking request: check it, score with the model in hand, order, log, answer."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import numpy as np

from ranker.errors import DuplicateCandidates, NoChampionServed, TooManyCandidates
from ranker.online import Context
from ranker.prediction_rows import ServedRequest
from ranker.predlog import PredictionLogger, new_request_id, prediction_ids
from ranker.schemas import RankRequest
from ranker.serving import ModelHolder

_quote = json.encoder.encode_basestring


def check_candidates(body: RankRequest, limit: int) -> None:
    if len(body.item_ids) > limit:
        raise TooManyCandidates(
            f"{len(body.item_ids)} candidates; at most {limit} per request",
            field="item_ids",
            rule="max_candidates",
        )
    if len(set(body.item_ids)) != len(body.item_ids):
        raise DuplicateCandidates(
            "item_ids must be distinct", field="item_ids", rule="unique_items"
        )


def rank(
    holder: ModelHolder,
    logger: PredictionLogger | None,
    body: RankRequest,
    *,
    now: datetime,
    max_candidates: int,
    model_name: str,
) -> str:
    """The response body: items by descending score, each with its prediction id."""
    check_candidates(body, max_candidates)
    model = holder.current  # held for the whole request: a swap cannot disturb it
    if model is None:
        raise NoChampionServed(
            f"no champion of {model_name!r} is loaded "
            f"({holder.last_error or 'none set yet, or still loading'})",
            rule="champion_loaded",
        )
    ctx = body.context
    hour = ctx.hour if ctx.hour is not None else now.hour
    scores, raw = model.score(
        body.user_id,
        body.item_ids,
        Context(
            now_us=int(now.timestamp() * 1_000_000),
            surface=ctx.surface,
            device=ctx.device,
            country=ctx.country,
            hour=hour,
        ),
    )
    order = np.argsort(-scores, kind="stable")
    items = [body.item_ids[i] for i in order]
    ranked = scores[order]
    request_id = new_request_id()
    if logger is not None:
        logger.log(
            ServedRequest(
                request_id=request_id,
                served_at=now,
                model_name=model.ref.model_name,
                model_version=model.ref.version,
                user_id=body.user_id,
                item_ids=items,
                scores=ranked,
                features=raw[order],
                surface=ctx.surface or "feed",
                device=ctx.device,
                country=ctx.country,
                hour=hour,
            )
        )
    return response_json(
        request_id, model.ref.model_name, model.ref.version, now, items, ranked.tolist()
    )


def response_json(
    request_id: uuid.UUID,
    model_name: str,
    version: int,
    served_at: datetime,
    items: list[str],
    scores: list[float],
) -> str:
    """The RankResponse document, written directly: 3x faster than json.dumps of dicts
    (0.17 vs 0.53 ms for 100 items). Ids are escaped by json's own encoder; scores are
    finite floats, whose repr is valid JSON."""
    ids = prediction_ids(request_id, len(items))
    rows = ",".join(
        [
            f'{{"item_id":{_quote(item)},"score":{score!r},"position":{pos},'
            f'"prediction_id":"{pid}"}}'
            for pos, (item, score, pid) in enumerate(zip(items, scores, ids, strict=True))
        ]
    )
    return (
        f'{{"request_id":"{request_id}","model":{{"name":{_quote(model_name)},'
        f'"version":{version}}},"served_at":"{served_at.isoformat()}","items":[{rows}]}}'
    )
