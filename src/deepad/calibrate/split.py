"""Which training rows are held out for calibration.

Split conformal needs calibration rows the model never trained on. They are drawn at
random (seeded), so that their scores are exchangeable with those of new normal rows.
The detector then drops rows labelled as anomalies from the calibration scores.
"""

from __future__ import annotations

import math

import numpy as np

_BAD_SIZE = "calibration_size must be 'auto', a fraction in (0, 1) or a row count, got {size}"

#: ``calibration_size="auto"``: this share of the rows ...
AUTO_FRACTION = 0.2
#: ... but never more than this many: 2,000 rows resolve p-values down to 1/2,001
AUTO_MAX_ROWS = 2000


def resolve_calibration_size(size: object, n_eligible: int, n_rows: int) -> int:
    """How many rows ``calibration_size`` asks for, or a ValueError saying why it cannot."""
    if isinstance(size, str):
        if size != "auto":
            raise ValueError(_BAD_SIZE.format(size=repr(size)))
        return min(AUTO_MAX_ROWS, math.floor(AUTO_FRACTION * n_eligible))
    if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)):
        raise ValueError(_BAD_SIZE.format(size=repr(size)))
    if isinstance(size, (float, np.floating)) and not float(size).is_integer():
        if not 0.0 < size < 1.0:
            raise ValueError(f"a calibration_size fraction must be in (0, 1), got {size!r}")
        count = math.floor(float(size) * n_eligible)
    else:
        count = int(size)
        if count < 0:
            raise ValueError(f"calibration_size must not be negative, got {size!r}")
    if count > n_eligible or n_rows - count < 2:
        raise ValueError(
            f"calibration_size={size!r} asks for {count} calibration rows, but only "
            f"{n_eligible} of the {n_rows} rows can be held out while leaving at least 2 "
            "to train on"
        )
    return count


def calibration_split(
    n_rows: int, keep_for_training: np.ndarray | None, size: object, seed: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(training row indices, calibration row indices), both sorted.

    Rows where the boolean mask ``keep_for_training`` is True (the known anomalies a
    semi-supervised detector learns from) always stay with training.
    """
    eligible = (
        np.arange(n_rows) if keep_for_training is None else np.flatnonzero(~keep_for_training)
    )
    count = resolve_calibration_size(size, len(eligible), n_rows)
    if count == 0:
        return np.arange(n_rows), np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(None if seed is None else [seed, 0xCA1])
    held_out = np.sort(rng.choice(eligible, size=count, replace=False))
    keep = np.ones(n_rows, dtype=bool)
    keep[held_out] = False
    return np.flatnonzero(keep), held_out
