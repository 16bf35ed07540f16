"""Score streams -> alarms: raise one alarm per anomaly, not one per anomalous step.

A sustained anomaly keeps a detector's score high for many steps; an operator (and
NAB's score, which charges every extra alarm as a false positive) wants one alarm at its
onset. ``novel_peaks`` keeps a score only where it beats every score of the previous
``horizon`` steps, and sets the rest to 0. It is causal: the output at t uses scores up to t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def novel_peaks(scores: np.ndarray, horizon: int) -> np.ndarray:
    """``scores`` where a score exceeds the maximum of the ``horizon`` steps before it, else 0.

    The first step is always kept (nothing precedes it). ``horizon`` must be >= 1.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an int >= 1, got {horizon!r}")
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("scores hold NaN or infinite values")
    before = pd.Series(values).rolling(int(horizon), min_periods=1).max().shift(1).to_numpy()
    return np.where(np.isnan(before) | (values > before), values, 0.0)
