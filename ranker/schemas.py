"""API shapes of ranking, delayed labels and the prediction log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from core.schemas import RequestModel, ResponseModel, _has_nul

Id = str  # user and item ids are opaque strings


class RankContext(RequestModel):
    surface: Literal["feed", "search", "profile"] | None = Field(
        default=None, description="Where the list is shown (default `feed`)."
    )
    device: str | None = Field(
        default=None, min_length=1, max_length=20, description="Default: the user's usual device."
    )
    country: str | None = Field(
        default=None, min_length=2, max_length=20, description="Default: the user's country."
    )
    hour: int | None = Field(
        default=None, ge=0, le=23, description="Local hour of the request (default: now, UTC)."
    )


ItemId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RankRequest(RequestModel):
    user_id: Id = Field(min_length=1, max_length=200, description="Who the list is for.")
    item_ids: list[ItemId] = Field(
        min_length=1, max_length=4096, description="Candidate items to order (distinct)."
    )
    context: RankContext = Field(default_factory=RankContext, description="Request context.")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """Replaces the generic recursive walk on the hot path: one C-level join over the ids."""
        if isinstance(data, dict) and isinstance(items := data.get("item_ids"), list):
            strings = [v for v in items if isinstance(v, str)]
            if "\x00" in "".join(strings) or _has_nul(
                {k: v for k, v in data.items() if k != "item_ids"}
            ):
                raise ValueError("text must not contain NUL characters")
            return data
        if _has_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


class RankedItem(ResponseModel):
    item_id: Id = Field(description="Candidate item.")
    score: float = Field(description="Predicted click probability.")
    position: int = Field(description="0 is the top.")
    prediction_id: uuid.UUID = Field(description="Id to send its delayed label with.")


class ServedVersion(ResponseModel):
    name: str = Field(description="Model name.")
    version: int = Field(description="The champion version that scored this request.")


class RankResponse(ResponseModel):
    request_id: uuid.UUID = Field(description="Id of this ranked list.")
    model: ServedVersion = Field(description="Which model version served it.")
    served_at: datetime = Field(description="When it was scored.")
    items: list[RankedItem] = Field(description="Items by descending score.")


class ServingStatus(ResponseModel):
    model_name: str = Field(description="Model served by POST /rank.")
    serving: bool = Field(description="Whether a model is loaded.")
    served_version: int | None = Field(default=None, description="Version being served.")
    served_sha256: str | None = Field(
        default=None, description="sha256 of the served artifact (verified when it was loaded)."
    )
    champion_version: int | None = Field(default=None, description="Registry champion.")
    champion_sha256: str | None = Field(
        default=None, description="sha256 the registry holds for the champion's artifact."
    )
    checked_at: datetime | None = Field(
        default=None, description="When this process last read the champion from the registry."
    )
    poll_seconds: float = Field(description="How often this process reads the champion.")
    last_load_seconds: float | None = Field(
        default=None, description="How long loading the served version took."
    )
    loaded_at: datetime | None = Field(default=None, description="When it was loaded.")
    swaps: int = Field(description="Models loaded since start.")
    last_error: str | None = Field(default=None, description="Why a champion was refused.")
    features_as_of: datetime | None = Field(
        default=None,
        description="The served online features count accepted data up to this moment (the "
        "end of the training window until the first refresh).",
    )
    feature_refreshes: int = Field(
        default=0, description="Times the served version's online features were rebuilt."
    )
    last_feature_error: str | None = Field(
        default=None, description="Why the last feature refresh failed (the features served stay)."
    )
    pending_predictions: int = Field(description="Predictions waiting to be written.")
    written_predictions: int = Field(description="Predictions written since start.")


class LabelIn(RequestModel):
    prediction_id: uuid.UUID | None = Field(default=None, description="From POST /rank.")
    request_id: uuid.UUID | None = Field(
        default=None, description="With `item_id`, instead of `prediction_id`."
    )
    item_id: Id | None = Field(default=None, min_length=1, max_length=200, description="Item.")
    clicked: bool = Field(description="Whether the user clicked.")
    dwell_ms: float | None = Field(
        default=None, ge=0, le=86_400_000, description="Time on the item after a click."
    )
    label_time: AwareDatetime = Field(description="When the outcome happened (with timezone).")

    @model_validator(mode="after")
    def _one_key(self) -> LabelIn:
        by_prediction = self.prediction_id is not None
        by_request = self.request_id is not None or self.item_id is not None
        if by_prediction == by_request or (
            by_request and (self.request_id is None or self.item_id is None)
        ):
            raise ValueError("give either prediction_id, or request_id with item_id")
        return self


class LabelsCreate(RequestModel):
    labels: list[LabelIn] = Field(
        min_length=1, max_length=100_000, description="Delayed outcomes, in any order."
    )


class UnknownLabel(ResponseModel):
    index: int = Field(description="Position in the posted list.")
    prediction_id: uuid.UUID | None = Field(default=None, description="As posted.")
    request_id: uuid.UUID | None = Field(default=None, description="As posted.")
    item_id: str | None = Field(default=None, description="As posted.")
    reason: str = Field(description="Why it did not join.")


class LabelsReport(ResponseModel):
    received: int = Field(description="Labels in the request.")
    joined: int = Field(description="Labels that matched a logged prediction.")
    written: int = Field(description="Labels stored (new, or newer than the stored one).")
    stale: int = Field(description="Joined labels older than one already stored (kept the newer).")
    unknown: list[UnknownLabel] = Field(description="Labels with no logged prediction.")


class PredictionRead(ResponseModel):
    prediction_id: uuid.UUID = Field(description="Prediction id.")
    request_id: uuid.UUID = Field(description="Its ranked list.")
    served_at: datetime = Field(description="When it was served.")
    model_name: str = Field(description="Model.")
    model_version: int = Field(description="Version that scored it.")
    user_id: str = Field(description="User.")
    item_id: str = Field(description="Item.")
    position: int = Field(description="Position in the list.")
    score: float = Field(description="Predicted click probability.")
    surface: str | None = Field(default=None, description="Context surface.")
    features: dict[str, float] = Field(description="Raw model inputs by name.")
    label: dict[str, object] | None = Field(default=None, description="Its joined label, if any.")
