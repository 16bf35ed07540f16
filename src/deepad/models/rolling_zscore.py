"""``RollingZScore``: the classical streaming baseline, a rolling z-score (or seasonal residual).

At each step t and channel c, the residual ``r_t = x_t`` (or ``x_t - x_{t-season}`` with
``season``) is compared with the mean and population standard deviation of the previous
``window`` residuals: ``z = |r_t - mean| / std``. The score is the mean of ``z`` over the
channels, so the per-channel ``z / channels`` are an exact explanation. Steps with fewer
than ``min_periods`` past residuals score 0 (warm-up). Nothing is learned beyond the
scaling; the statistics roll with the stream, so it adapts to slow drift by design.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from deepad.models.series_base import SeriesDetector, check_window

#: spreads below this (in the channel's robust training units) are treated as this, so a
#: change after a flat stretch scores high instead of dividing by zero
_MIN_STD = 1e-3


class RollingZScore(SeriesDetector):
    """Rolling z-score of each step against the previous ``window`` steps (causal)."""

    summary = "rolling z-score / seasonal residual; the classical streaming baseline"
    native_explain_methods = ("zscore",)
    default_explain_method = "zscore"

    def __init__(
        self,
        window: int = 100,
        season: int | None = None,
        min_periods: int | None = None,
        contamination: float = 0.1,
    ) -> None:
        self.window = window
        self.season = season
        self.min_periods = min_periods
        self.contamination = contamination

    def _check_params(self) -> None:
        super()._check_params()
        check_window(self.window)
        if self.season is not None:
            check_window(self.season, "season", minimum=1)
        if self.min_periods is not None:
            check_window(self.min_periods, "min_periods")
            if self.min_periods > self.window:
                raise ValueError(
                    f"min_periods ({self.min_periods}) cannot exceed window ({self.window})"
                )

    def _context_length(self) -> int:
        return int(self.window) + int(self.season or 0)

    def _fit_steps(self, scaled: np.ndarray) -> None:
        """Nothing to learn: the statistics are those of the recent past."""

    def _z(self, scaled: np.ndarray) -> np.ndarray:
        residual = scaled
        if self.season:
            residual = np.full_like(scaled, np.nan)
            residual[self.season :] = scaled[self.season :] - scaled[: -self.season]
        past = pd.DataFrame(residual).shift(1)
        minimum = self.min_periods or max(2, self.window // 2)
        rolling = past.rolling(self.window, min_periods=minimum)
        mean = rolling.mean().to_numpy()
        std = np.maximum(rolling.std(ddof=0).to_numpy(), _MIN_STD)
        z = np.abs(residual - mean) / std
        return np.nan_to_num(z, nan=0.0)

    def _channel_scores(self, scaled: np.ndarray) -> tuple[np.ndarray, None]:
        return self._z(scaled), None

    def _export_series(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {}
