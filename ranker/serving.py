"""Serve the champion: load it verified, score requests, swap in a new champion live.

A request takes the current `ServedModel` once and scores with it to the end, so swapping the
holder's reference never disturbs a request in flight; the old model is freed when the last
request using it finishes. Loading happens on a watcher thread that polls the registry (via a
resolver handed in by the caller, so ranker does not depend on governance). The same thread
rebuilds the served model's online features on a cadence of the process clock when newer
accepted data has landed (`ranker.feature_refresh`), swapped in the same way.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from core.clock import utcnow
from ranker import artifact
from ranker.encoding import FeatureSpec, transform_numeric
from ranker.feature_refresh import SnapshotLoader
from ranker.online import Context, OnlineFeatures
from ranker.snapshot import Snapshot

log = logging.getLogger("driftgate.ranker.serving")
_WARM_UP_CALLS = 3
_TRACE_LOCK = threading.Lock()


@dataclass(frozen=True)
class ArtifactRef:
    """Which artifact to serve, and the sha256 the registry holds for it."""

    model_name: str
    version: int
    uri: str
    sha256: str


class ServedModel:
    """A loaded, verified model version with its online features."""

    def __init__(self, ref: ArtifactRef, payload: dict[str, Any]) -> None:
        from ranker.training import model_from_payload

        self.ref = ref
        self.model, self.spec = model_from_payload(payload)
        snapshot = Snapshot.from_payload(payload["snapshot"])
        self.features = OnlineFeatures(snapshot, self.spec)
        self.features_as_of = _moment(snapshot.as_of_us)
        self.features_checked_at: datetime | None = None
        self.feature_refreshes = 0
        self.history = _training_length(payload)
        self.scorer = self._traced()
        self.feature_names: list[str] = [i["name"] for i in payload["signature"]["inputs"]]
        self.loaded_at: datetime = utcnow()

    def use_snapshot(self, snapshot: Snapshot) -> None:
        """Serve newer online features: one reference swap, so a request in flight (which took
        `features` once) finishes with the ones it started with."""
        self.features = OnlineFeatures(snapshot, self.spec)
        self.features_as_of = _moment(snapshot.as_of_us)
        self.feature_refreshes += 1

    @property
    def feature_spec(self) -> FeatureSpec:
        return self.spec

    def _traced(self) -> Any:
        """The module traced and frozen by TorchScript: the same numbers for half the per-call
        Python overhead (measured: 0.43 -> 0.20 ms for 100 candidates)."""
        import torch

        raw, cat = self.features.compute("", ["", " "], Context(now_us=0))
        example = (torch.from_numpy(transform_numeric(raw)), torch.from_numpy(cat))
        # Two holders tracing at once in one process (two apps, as in tests) made the trace's
        # sanity check fail and the version be refused; one trace at a time.
        with _TRACE_LOCK, torch.inference_mode():
            scorer = torch.jit.freeze(torch.jit.trace(self.model.eval(), example))
            # TorchScript profiles the first calls and optimizes the graph on the next (~5 ms
            # of CPU each, measured): pay that here, in the loader thread, not in the first
            # requests the new version answers.
            for _ in range(_WARM_UP_CALLS):
                scorer(*example)
        return scorer

    def score(
        self, user_id: str, item_ids: list[str], ctx: Context
    ) -> tuple[np.ndarray, np.ndarray]:
        """Click probabilities in input order, and the raw numeric features behind them."""
        import torch

        features = self.features  # once: a refresh may swap it mid-request
        raw, cat = features.compute(user_id, item_ids, ctx)
        with torch.inference_mode():
            logits = self.scorer(torch.from_numpy(transform_numeric(raw)), torch.from_numpy(cat))
        scores = 1.0 / (1.0 + np.exp(-logits.numpy().astype(np.float64)))
        return scores, raw


def _moment(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


def _training_length(payload: dict[str, Any]) -> timedelta | None:
    """How much history the model's features were computed from (its training window)."""
    window = payload.get("training", {}).get("window")
    if not window:
        return None
    start, end = (datetime.fromisoformat(v) for v in window)
    return end - start


def load(ref: ArtifactRef, data_dir: Path) -> ServedModel:
    """Read the artifact, refusing it unless its bytes match the registered sha256."""
    payload = artifact.read(artifact.path_of(ref.uri, data_dir), ref.sha256)
    return ServedModel(ref, payload)


class ModelHolder:
    """The model currently served, and the watcher that keeps it the registry's champion."""

    def __init__(
        self,
        resolve: Callable[[], ArtifactRef | None],
        *,
        data_dir: Path,
        poll_seconds: float = 1.0,
        threads: int = 1,
        on_refused: Callable[[ArtifactRef, Exception], None] | None = None,
        load_features: SnapshotLoader | None = None,
        feature_refresh_seconds: float = 0.0,
    ) -> None:
        self._resolve = resolve
        self._data_dir = data_dir
        self._poll = poll_seconds
        self._threads = threads
        self._on_refused = on_refused
        self._load_features = load_features
        self._feature_every = timedelta(seconds=feature_refresh_seconds)
        self._current: ServedModel | None = None
        self._refused: set[tuple[int, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.champion: ArtifactRef | None = None
        self.last_error: str | None = None
        self.swaps = 0
        self.checked_at: datetime | None = None  # last time the registry answered
        self.last_load_seconds: float | None = None  # how long the last swap took to load
        self.last_feature_error: str | None = None
        self.last_feature_seconds: float | None = None  # how long the last refresh took

    @property
    def poll_seconds(self) -> float:
        return self._poll

    @property
    def current(self) -> ServedModel | None:
        return self._current

    def refresh(self) -> ServedModel | None:
        """One check: load the champion if it is not what is served (and not already refused)."""
        with self._lock:
            try:
                ref = self._resolve()
            except Exception as exc:  # the registry is unreachable: keep serving
                self.last_error = f"registry unreachable: {type(exc).__name__}"
                log.warning("cannot read the champion: %s", exc)
                return self._current
            self.champion = ref
            self.checked_at = utcnow()
            served = self._current.ref if self._current else None
            if ref is None or ref == served or (ref.version, ref.sha256) in self._refused:
                return self._current
            started = time.perf_counter()
            try:
                model = load(ref, self._data_dir)
            except Exception as exc:
                self._refused.add((ref.version, ref.sha256))
                self.last_error = f"version {ref.version} refused: {exc}"
                log.error("refusing to serve %s v%s: %s", ref.model_name, ref.version, exc)
                if self._on_refused is not None:
                    self._on_refused(ref, exc)
                return self._current
            self._current = model  # one reference swap: requests in flight keep their model
            # Everything alive now (the app, the model, its snapshot: ~350k objects) lives
            # long; a full collection that scans it pauses every request for ~0.3 s here.
            gc.freeze()
            self.swaps += 1
            self.last_load_seconds = time.perf_counter() - started
            self.last_error = None
            log.info("serving %s v%s", ref.model_name, ref.version)
            return model

    def refresh_features(self) -> bool:
        """Rebuild the served model's features once `feature_refresh_seconds` of the process
        clock have passed since they were built (or last checked) and newer accepted data
        exists; True when new features are served. A failure keeps the current ones."""
        model = self._current
        if model is None or self._load_features is None or model.history is None:
            return False
        if self._feature_every <= timedelta(0):
            return False
        now = utcnow()
        last = max(model.features_as_of, model.features_checked_at or model.features_as_of)
        if now < last + self._feature_every:
            return False
        with self._lock:
            model.features_checked_at = now
            started = time.perf_counter()
            try:
                snapshot = self._load_features(model.spec, model.history, model.features_as_of, now)
            except Exception as exc:  # stale features beat no ranking: keep serving these
                self.last_feature_error = f"feature refresh failed: {type(exc).__name__}: {exc}"
                log.warning("cannot refresh the serving features: %s", exc)
                return False
            if snapshot is None:
                return False
            model.use_snapshot(snapshot)
            gc.freeze()  # as after a load: the new tables live long (the old ones go by refcount)
            self.last_feature_seconds = time.perf_counter() - started
            self.last_feature_error = None
            log.info("serving features as of %s", model.features_as_of.isoformat())
            return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="ranker-champion", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        import torch  # imported here, off the start-up path

        torch.set_num_threads(self._threads)
        while not self._stop.is_set():
            self.refresh()
            self.refresh_features()
            self._stop.wait(self._poll)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
