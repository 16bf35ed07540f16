"""Input drift against the training data, from the statistics a bundle already keeps.

No training rows are needed: the preprocessor stores, per numeric column, the 5th and
95th training percentiles (so 10% of training values lie outside them) and, per
categorical column, the share of each kept category. For new data:

- numeric: the share of present values outside the training 5-95% range, against the 10%
  expected; a one-sided binomial test gives its p-value; also the mean shift in training
  standard deviations;
- categorical: the total variation distance between the training shares and the new ones
  (categories beyond the kept ones, and values never seen, pooled as "other"); a
  chi-square goodness-of-fit test gives its p-value.

A column is flagged when the test rejects at ``alpha`` (default 0.001, since a table has
many columns) and the change is large enough to matter (outside share above 20%, or a
distance above 0.1). Statistics are reported either way.

``channel_drift`` does the same for the channels of a series detector, from the 5-95%
training ranges and the robust centre and spread it keeps. Steps of a series are not
independent, so its binomial p-values are too small; the practical-size floor (outside
share above 20%) is what keeps a flag meaningful there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from deepad.monitor.stats import chi_square, share_distance
from deepad.preprocess.tabular import TabularPreprocessor, categorical_labels

#: share of training values outside the stored 5th-95th percentile range
EXPECTED_OUTSIDE = 0.10
#: practical-size floors for a flag (the tests alone flag trivial shifts on big files)
MIN_OUTSIDE, MIN_DISTANCE = 0.20, 0.10


def feature_drift(
    preprocessor: TabularPreprocessor, data: Any, *, alpha: float = 0.001
) -> pd.DataFrame:
    """One row per input column: kind, statistic, value, expected, p-value, drifted."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    frame = preprocessor.select_columns(data)
    records = []
    for spec in preprocessor.columns_:
        series = frame[spec.name]
        if spec.kind == "numeric":
            records.append(_numeric(spec, series, alpha))
        else:
            records.append(_categorical(spec, series, alpha))
    table = pd.DataFrame.from_records(records)
    return table.sort_values(["drifted", "p_value"], ascending=[False, True], kind="stable")


def channel_drift(detector: Any, data: Any, *, alpha: float = 0.001) -> pd.DataFrame:
    """One row per channel of a fitted series detector, as ``feature_drift``'s numeric
    rows; ``mean_shift`` is the median's shift in the detector's robust spreads."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    series = detector._series(data)
    records = []
    for c, name in enumerate(detector.channels_):
        typical = detector.typical_[c]
        low, high = (None, None) if typical is None else typical
        values = series.values[:, c]
        present = values[np.isfinite(values)]
        shift = (
            (float(np.median(present)) - detector.scaler_.centre[c]) / detector.scaler_.scale[c]
            if present.size
            else np.nan
        )
        records.append(_outside_share(str(name), values, low, high, shift, alpha))
    table = pd.DataFrame.from_records(records)
    return table.sort_values(["drifted", "p_value"], ascending=[False, True], kind="stable")


def _numeric(spec: Any, series: pd.Series, alpha: float) -> dict[str, Any]:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    present = values[np.isfinite(values)]
    shift = float((present.mean() - spec.mean) / spec.scale) if present.size else np.nan
    return _outside_share(spec.name, values, spec.low, spec.high, shift, alpha)


def _outside_share(
    name: str,
    values: np.ndarray,
    low: float | None,
    high: float | None,
    shift: float,
    alpha: float,
) -> dict[str, Any]:
    """Share of present values outside [low, high] against 10%, with its binomial test."""
    present = values[np.isfinite(values)]
    record = {"column": name, "kind": "numeric", "statistic": "share outside 5-95%"}
    if low is None or high is None or present.size == 0:
        return {**record, "value": np.nan, "expected": EXPECTED_OUTSIDE, "p_value": 1.0,
                "mean_shift": np.nan, "drifted": False}  # fmt: skip
    outside = int(((present < low) | (present > high)).sum())
    share = outside / present.size
    p_value = float(stats.binomtest(outside, present.size, EXPECTED_OUTSIDE, "greater").pvalue)
    return {
        **record,
        "value": share,
        "expected": EXPECTED_OUTSIDE,
        "p_value": p_value,
        "mean_shift": shift,
        "drifted": bool(p_value < alpha and share > MIN_OUTSIDE),
    }


def category_counts(spec: Any, series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A categorical column's counts and training shares, cell by cell: each kept
    category, then "other" (categories beyond the kept ones, and values never seen)."""
    labels = categorical_labels(series)  # the labels the encoder counts, gaps included
    kept = list(spec.categories)
    observed = np.array([(labels == c).sum() for c in kept] + [(~labels.isin(kept)).sum()])
    shares = np.array([*spec.shares, max(0.0, 1.0 - sum(spec.shares))])
    return observed, shares


def _categorical(spec: Any, series: pd.Series, alpha: float) -> dict[str, Any]:
    observed, shares = category_counts(spec, series)
    record = {"column": spec.name, "kind": "categorical", "statistic": "category share distance"}
    if not spec.shares or observed.sum() == 0:
        return {**record, "value": np.nan, "expected": 0.0, "p_value": 1.0, "mean_shift": np.nan,
                "drifted": False}  # fmt: skip
    distance = share_distance(shares, observed)
    _, p_value = chi_square(shares, observed)
    return {
        **record,
        "value": distance,
        "expected": 0.0,
        "p_value": p_value,
        "mean_shift": np.nan,
        "drifted": bool(p_value < alpha and distance > MIN_DISTANCE),
    }
