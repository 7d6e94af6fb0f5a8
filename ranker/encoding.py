"""From raw feature columns to model inputs, and the model's signature (its feature schema).

Vocabularies come from the training split only; an unseen or null value maps to index 0,
which is how cold-start categories are scored. Pure logic, no I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from ranker.features import (
    CATEGORICAL_FEATURES,
    LOG_FEATURES,
    NUMERIC_FEATURES,
    RATE_FEATURES,
    FeatureParams,
)

UNKNOWN = "<unknown>"


_LOG_COLUMNS = np.array([j for j, n in enumerate(NUMERIC_FEATURES) if n in LOG_FEATURES])
_RATE_COLUMNS = np.array([j for j, n in enumerate(NUMERIC_FEATURES) if n in RATE_FEATURES])


def transform_numeric(raw: np.ndarray) -> np.ndarray:
    """log1p for counts, hours and lengths; log for rates (columns in NUMERIC_FEATURES order)."""
    out = np.array(raw, dtype=np.float32)
    out[:, _LOG_COLUMNS] = np.log1p(np.maximum(out[:, _LOG_COLUMNS], 0))
    out[:, _RATE_COLUMNS] = np.log(np.clip(out[:, _RATE_COLUMNS], 1e-4, 1.0))
    if not np.isfinite(out).all():
        np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to turn raw features into model inputs the same way every time."""

    params: FeatureParams
    prior_ctr: float
    vocabularies: dict[str, list[str]]  # index 0 is reserved for unknown values

    @classmethod
    def fit(cls, train: pl.DataFrame, params: FeatureParams, prior_ctr: float) -> FeatureSpec:
        vocab = {
            name: [UNKNOWN, *sorted(train[name].drop_nulls().cast(pl.String).unique().to_list())]
            for name in CATEGORICAL_FEATURES
        }
        return cls(params=params, prior_ctr=prior_ctr, vocabularies=vocab)

    def numeric(self, frame: pl.DataFrame) -> np.ndarray:
        raw = frame.select(pl.col(NUMERIC_FEATURES).cast(pl.Float64)).to_numpy()
        return transform_numeric(raw)

    def codes(self, name: str, values: pl.Series) -> np.ndarray:
        mapping = {v: i for i, v in enumerate(self.vocabularies[name]) if i}
        return (
            values.cast(pl.String)
            .replace_strict(mapping, default=0, return_dtype=pl.Int64)
            .to_numpy()
        )

    def categorical(self, frame: pl.DataFrame) -> np.ndarray:
        cols = [self.codes(name, frame.get_column(name)) for name in CATEGORICAL_FEATURES]
        return np.stack(cols, axis=1) if cols else np.zeros((frame.height, 0), dtype=np.int64)

    def cardinalities(self) -> tuple[int, ...]:
        return tuple(len(self.vocabularies[n]) for n in CATEGORICAL_FEATURES)

    def signature(self) -> dict[str, Any]:
        """The model's feature schema: what it reads, in order, and how."""
        return {
            "inputs": [
                {
                    "name": n,
                    "kind": "numeric",
                    "dtype": "float32",
                    "transform": "log1p" if n in LOG_FEATURES else "log",
                }
                for n in NUMERIC_FEATURES
            ]
            + [
                {
                    "name": n,
                    "kind": "categorical",
                    "dtype": "int64",
                    "vocabulary_size": len(self.vocabularies[n]),
                }
                for n in CATEGORICAL_FEATURES
            ],
            "output": {"name": "click_probability", "dtype": "float32", "range": [0, 1]},
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "params": asdict(self.params),
            "prior_ctr": self.prior_ctr,
            "vocabularies": self.vocabularies,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FeatureSpec:
        return cls(
            params=FeatureParams(**doc["params"]),
            prior_ctr=float(doc["prior_ctr"]),
            vocabularies={k: list(v) for k, v in doc["vocabularies"].items()},
        )
