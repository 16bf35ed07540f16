"""Detector factories for tests/test_bench.py that misbehave on purpose.

Benchmark jobs build their detector inside a child process, where monkeypatching does not
reach; the runner therefore takes a factory, and these module-level ones (importable by
name in the child) stand in for a detector that raises, hangs or returns junk.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from deepad.bench.detectors import make_detector


def raising_factory(name: str, seed: int, n_features: int) -> Any:
    """``KNN`` raises while being built; every other detector is the real one."""
    if name == "KNN":
        raise RuntimeError("injected failure\nwith a second line that is not recorded")
    return make_detector(name, seed, n_features)


def sleeping_factory(name: str, seed: int, n_features: int) -> Any:
    """Hangs far longer than any test's timeout."""
    time.sleep(120)
    return make_detector(name, seed, n_features)


class _InfiniteScores:
    def fit(self, X: Any, y: Any = None) -> _InfiniteScores:
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        scores = np.zeros(len(X))
        scores[0] = np.inf
        return scores


def infinite_factory(name: str, seed: int, n_features: int) -> Any:
    """A detector whose first test score is +inf (as PyOD's PCA can give)."""
    return _InfiniteScores()
