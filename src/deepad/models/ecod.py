"""``ECOD``: empirical-CDF outlier detection, tail probabilities per feature, no parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepad.core.base import BaseDetector

#: half-width of the window the empirical CDF is averaged over, in column standard deviations
SMOOTHING = 0.5


class ECOD(BaseDetector):
    """ECOD (Li et al., TKDE 2022): how far into the tails of the training data a row lies.

    Per feature, the left and right tail probabilities of a value under the training
    data's empirical CDF (with +1 smoothing, so unseen extremes stay finite); the score is
    the sum over features of the larger of the two tail surprisals, -log(p). This is the
    aggregation of the reference implementation in PyOD (its skewness term never exceeds
    that maximum), which did better than the paper's max-of-sums on ADBench here. Unlike
    PyOD, new rows are scored against the training CDF alone, not refitted with them.

    The CDF is the empirical one averaged over a window of +-``SMOOTHING`` (0.5) times
    the column's training standard deviation (a uniform-kernel CDF, computed exactly from
    the integral of the step CDF), so the tails are continuous in the value. The plain
    step CDF jumps at every tied value: on columns with repeated values (counts, codes, a
    mass at 0) noise of 1% of a column's spread flipped 65-80% of the decisions on four
    of six ADBench sets, since a row just below a minimum most training rows share scored
    as if beyond every training value (`deepad stress`, docs/benchmarks.md "Stress
    tests"). On 32 ADBench sets the smoothing also changed AUROC: see docs/benchmarks.md.
    """

    summary = "ECOD, empirical-CDF tail probabilities; parameter-free, fast, a good first look"
    native_explain_methods = ("tails",)
    default_explain_method = "tails"

    def __init__(self, contamination: float = 0.1) -> None:
        self.contamination = contamination

    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        self.sorted_ = np.sort(features.astype(np.float64), axis=0)

    def _score_features(self, features: np.ndarray) -> np.ndarray:
        return self._tail_surprisals(features).sum(axis=1)

    def _tail_surprisals(self, features: np.ndarray) -> np.ndarray:
        """Per feature, the larger of the left and right tail surprisals (the score's terms)."""
        n = self.sorted_.shape[0]
        values = features.astype(np.float64)
        at_most = np.empty_like(values)
        for j, (knots, integral, width) in enumerate(self._smoothing()):
            x = values[:, j]
            upper = _integral_at(x + width, knots, integral)
            lower = _integral_at(x - width, knots, integral)
            at_most[:, j] = n * (upper - lower) / (2.0 * width)
        at_most = np.clip(at_most, 0.0, n)
        left = -np.log((at_most + 1.0) / (n + 1.0))
        right = -np.log((n - at_most + 1.0) / (n + 1.0))
        return np.maximum(left, right)

    def _smoothing(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Per column: its distinct training values, the integral of the empirical CDF up
        to each, and the half-width of the window it is averaged over; computed once."""
        cached = getattr(self, "_smoothing_cache", None)
        if cached is not None and cached[0] is self.sorted_:
            return cached[1]
        n = self.sorted_.shape[0]
        columns = []
        for column in self.sorted_.T:
            distinct, counts = np.unique(column, return_counts=True)
            cdf = np.cumsum(counts) / n  # on [distinct[k], distinct[k + 1])
            integral = np.r_[0.0, np.cumsum(cdf[:-1] * np.diff(distinct))]
            spread = float(np.std(column))
            width = SMOOTHING * spread if spread > 0 else 1.0
            columns.append((distinct, integral, width))
        self._smoothing_cache = (self.sorted_, columns)
        return columns

    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {"sorted_": self.sorted_}

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.sorted_ = arrays["sorted_"]

    def _explain_features(
        self, features: np.ndarray, method: str, baseline: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        return self._tail_surprisals(features), None


def _integral_at(x: np.ndarray, knots: np.ndarray, integral: np.ndarray) -> np.ndarray:
    """The integral of the step CDF from below the data up to ``x``: 0 below the smallest
    training value, linear between distinct values, slope 1 beyond the largest."""
    return np.interp(x, knots, integral) + np.maximum(x - knots[-1], 0.0)
