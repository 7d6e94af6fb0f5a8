"""The PyTorch ranker: embeddings of categorical features plus a deep MLP, trained on log loss.

Imports torch at module level, so import this module only inside functions that need it
(`driftgate --help` and API start-up never load torch).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class TrainConfig:
    """Model shape and optimisation; stored in the artifact."""

    seed: int = 7
    hidden: tuple[int, ...] = (128, 64, 32)
    embedding_dim: int = 8
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    batch_size: int = 2048
    max_epochs: int = 30
    patience: int = 3
    threads: int = 1

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TrainConfig:
        return cls(**{**doc, "hidden": tuple(doc["hidden"])})


@dataclass(frozen=True)
class ModelShape:
    n_numeric: int
    cardinalities: tuple[int, ...]
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)


class FeedRanker(nn.Module):
    """Standardize numeric inputs, embed categorical ones, and score with an MLP (a logit)."""

    def __init__(self, shape: ModelShape, config: TrainConfig) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(shape.mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(shape.std, dtype=torch.float32))
        dims = [
            min(config.embedding_dim, max(2, math.ceil(card**0.5) + 1))
            for card in shape.cardinalities
        ]
        self.embeddings = nn.ModuleList(
            nn.Embedding(card, dim) for card, dim in zip(shape.cardinalities, dims, strict=True)
        )
        width = shape.n_numeric + sum(dims)
        layers: list[nn.Module] = []
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        parts = [(numeric - mean) / std]
        parts += [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]
        return self.mlp(torch.cat(parts, dim=1)).squeeze(1)


@dataclass
class TrainResult:
    state_dict: dict[str, torch.Tensor]
    history: list[dict[str, float]]
    best_epoch: int


def seed_everything(config: TrainConfig) -> None:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)


def build(shape: ModelShape, config: TrainConfig) -> FeedRanker:
    seed_everything(config)
    return FeedRanker(shape, config)


def _tensors(num: np.ndarray, cat: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.ascontiguousarray(num, dtype=np.float32)), torch.from_numpy(
        np.ascontiguousarray(cat, dtype=np.int64)
    )


def predict_logits(model: FeedRanker, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
    model.eval()
    n, c = _tensors(num, cat)
    out = []
    with torch.inference_mode():
        for i in range(0, len(n), 65536):
            out.append(model(n[i : i + 65536], c[i : i + 65536]).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def fit(
    shape: ModelShape,
    config: TrainConfig,
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray, np.ndarray],
    on_epoch: Callable[[dict[str, float], int], None] | None = None,
) -> TrainResult:
    """Adam on log loss; stop when validation log loss has not improved for `patience` epochs.

    `on_epoch(history_entry, max_epochs)` is called after each epoch (the CLI's progress)."""
    model = build(shape, config)
    gen = torch.Generator().manual_seed(config.seed)
    optim = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    # Halve the step when validation stalls: a few calm epochs before stopping, not noise.
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(optim, factor=0.5, patience=0)
    loss_fn = nn.BCEWithLogitsLoss()
    x_num, x_cat = _tensors(train[0], train[1])
    y = torch.from_numpy(np.ascontiguousarray(train[2], dtype=np.float32))
    val_num, val_cat = _tensors(val[0], val[1])
    val_y = torch.from_numpy(np.ascontiguousarray(val[2], dtype=np.float32))
    best, best_loss, best_epoch, history = None, math.inf, 0, []
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        total = 0.0
        for i in range(0, len(y), config.batch_size):
            idx = order[i : i + config.batch_size]
            optim.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_num[idx], x_cat[idx]), y[idx])
            loss.backward()
            optim.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.inference_mode():
            val_loss = float(loss_fn(model(val_num, val_cat), val_y))
        schedule.step(val_loss)
        history.append({"epoch": epoch, "train_log_loss": total / len(y), "val_log_loss": val_loss})
        if on_epoch is not None:
            on_epoch(history[-1], config.max_epochs)
        if val_loss < best_loss - 1e-5:
            best, best_loss, best_epoch = copy.deepcopy(model.state_dict()), val_loss, epoch
        elif epoch - best_epoch >= config.patience:
            break
    assert best is not None
    return TrainResult(state_dict=best, history=history, best_epoch=best_epoch)


def load(shape: ModelShape, config: TrainConfig, state_dict: dict[str, Any]) -> FeedRanker:
    model = FeedRanker(shape, config)
    model.load_state_dict(state_dict)
    model.eval()
    return model
