"""The models a service scores with: loaded from the registry, kept warm, swapped on promote.

A model name resolves to its production version (its latest when none is promoted).
The pool asks the registry at most every ``refresh_seconds`` which version that is, and
loads a newly promoted (or rolled-back) version on the next request. Each loaded model
has a drift monitor; monitoring runs on one background thread, so closing a window
(an MMD permutation test) never delays a request, and its alerts go to the registry
with the version that scored the rows.

After each load the heap is settled (``settle_heap``): the libraries and the loaded
models are long-lived, and without that every full garbage collection walks them
all (about 150 ms with torch and pandas loaded), which is what the slowest requests
of a busy service would wait for.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepad.bundle import load
from deepad.monitor import DriftMonitor
from deepad.registry import ModelVersion, Registry
from deepad.serve.metrics import ServiceMetrics

log = logging.getLogger("deepad.serve")

#: series a stream endpoint keeps state for, per model; the least recently used go first
MAX_SERIES = 10_000


def settle_heap() -> None:
    """Collect garbage, then move every surviving object out of the collector's reach
    (``gc.freeze``): later collections only walk what was allocated since. Unfrozen
    first, so a replaced model version's cycles are collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@dataclass
class LoadedModel:
    """One version in memory: the detector, its monitor, and per-series stream state."""

    info: ModelVersion
    detector: Any
    monitor: DriftMonitor
    lock: threading.Lock = field(default_factory=threading.Lock)
    streams: OrderedDict[str, tuple[np.ndarray, int]] = field(default_factory=OrderedDict)
    checked_at: float = 0.0
    #: the threshold rule in words, computed once (its FPR spread is costly per request)
    rule: str = ""

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> int:
        return self.info.version


class ModelPool:
    """Loads, caches and monitors the registry's models for one service instance."""

    def __init__(
        self,
        registry: Registry,
        metrics: ServiceMetrics,
        *,
        window: int = 500,
        alpha: float = 0.01,
        refresh_seconds: float = 2.0,
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.window = window
        self.alpha = alpha
        self.refresh_seconds = refresh_seconds
        self._models: dict[str, LoadedModel] = {}
        self._loading = threading.Lock()
        self._monitoring = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepad-monitor")
        self._pending: list[Future[None]] = []

    def get(self, name: str) -> LoadedModel:
        """The version of ``name`` to score with now (RegistryError when unknown)."""
        loaded = self._models.get(name)
        now = time.monotonic()
        if loaded is not None and now - loaded.checked_at < self.refresh_seconds:
            return loaded
        with self._loading:
            loaded = self._models.get(name)
            if loaded is not None and now - loaded.checked_at < self.refresh_seconds:
                return loaded
            info = self.registry.version(name)
            if loaded is None or loaded.version != info.version:
                detector = load(info.path)
                monitor = DriftMonitor(detector, window=self.window, alpha=self.alpha)
                rule = detector.calibrator_.describe()
                loaded = LoadedModel(info=info, detector=detector, monitor=monitor, rule=rule)
                log.info("serving %s version %d", name, info.version)
                settle_heap()
            loaded.checked_at = now
            self._models[name] = loaded
            return loaded

    def serving_version(self, name: str) -> int | None:
        """The version loaded for ``name``, or None when it has not been requested yet."""
        loaded = self._models.get(name)
        return None if loaded is None else loaded.version

    def last_window(self, name: str) -> dict[str, Any] | None:
        """The newest closed monitoring window of ``name`` (``WindowReport.to_dict()``)."""
        loaded = self._models.get(name)
        last = None if loaded is None else loaded.monitor.last
        return None if last is None else last.to_dict()

    def observe(
        self,
        loaded: LoadedModel,
        frame: pd.DataFrame | None,
        scores: np.ndarray,
        p_values: np.ndarray | None,
        flags: np.ndarray,
    ) -> None:
        """Hand scored rows to the model's monitor, on the monitoring thread."""
        self.metrics.rows.labels(loaded.name, str(loaded.version)).inc(len(scores))
        self.metrics.flagged.labels(loaded.name, str(loaded.version)).inc(int(flags.sum()))
        future = self._monitoring.submit(self._monitor, loaded, frame, scores, p_values, flags)
        self._pending = [f for f in self._pending if not f.done()] + [future]

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every submitted batch has been monitored (tests, shutdown)."""
        for future in list(self._pending):
            future.result(timeout=timeout)

    def close(self) -> None:
        """Finish the monitoring queue and stop its thread."""
        self._monitoring.shutdown(wait=True)

    def _monitor(
        self,
        loaded: LoadedModel,
        frame: pd.DataFrame | None,
        scores: np.ndarray,
        p_values: np.ndarray | None,
        flags: np.ndarray,
    ) -> None:
        try:
            reports = loaded.monitor.observe(frame, scores, p_values, flags)
            for report in reports:
                record = report.to_dict()
                self.metrics.record_window(loaded.name, record)
                for alert in record.get("alerts") or []:
                    self.registry.add_alert(
                        loaded.name,
                        loaded.version,
                        str(alert["kind"]),
                        str(alert["message"]),
                        {**(alert.get("detail") or {}), "window": record.get("index")},
                        severity=str(alert.get("severity", "warning")),
                    )
        except Exception:  # monitoring must never take scoring down; say what failed
            log.exception("monitoring %s version %d failed", loaded.name, loaded.version)
