"""Turn what a user hands us as a time series into a validated ``Series``.

Accepted: a DataFrame with a time column (named, or the only datetime column) or a
``DatetimeIndex``, plus one or more numeric value columns; or an array (1-D: one channel,
2-D: time steps x channels) without timestamps. What the checks decide, once for every
series detector:

- rows are put in time order (``Series.order`` maps them back, so scores align with the
  rows as given); repeated timestamps are refused, since a step then has two values;
- value columns must be numeric (bool counts as 0/1); text columns are refused by name;
- NaN and +-inf stay NaN in ``values`` and are counted; each detector says how it fills;
- spacing is described, not changed: ``step`` is the median time between rows, ``gaps``
  counts spacings over 1.5 steps, ``irregular`` is set when spacings vary by more than 1%.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Series:
    """A validated multichannel series in time order."""

    values: np.ndarray  # (steps, channels) float64; NaN where a value is missing
    columns: list[str]
    timestamps: pd.DatetimeIndex | None
    order: np.ndarray  # values[i] is input row order[i]
    step: pd.Timedelta | None
    gaps: int
    irregular: bool

    @property
    def n_missing(self) -> int:
        """Missing (NaN or infinite) values over all channels."""
        return int(np.isnan(self.values).sum())

    def to_time_order(self, per_row: np.ndarray) -> np.ndarray:
        """A per-input-row array (e.g. labels) rearranged to time order."""
        return np.asarray(per_row)[self.order]

    def to_input_order(self, per_step: np.ndarray) -> np.ndarray:
        """A per-step array (e.g. scores) rearranged to the order of the input rows."""
        out = np.empty_like(per_step)
        out[self.order] = per_step
        return out


def as_series(X: Any, *, time_column: str | None = None, name: str = "X") -> Series:
    """``X`` as a ``Series``, or a ``ValueError`` that names the problem."""
    if isinstance(X, pd.Series):
        X = X.to_frame(name=str(X.name) if X.name is not None else "value")
    if isinstance(X, pd.DataFrame):
        return _from_frame(X, time_column, name)
    if time_column is not None:
        raise ValueError(f"time_column={time_column!r} needs a DataFrame, got {type(X).__name__}")
    if X is None or isinstance(X, (str, bytes)):
        raise ValueError(f"{name} must be an array or a DataFrame, got {X!r}")
    array = np.asarray(X)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (steps x channels), got shape {array.shape}")
    columns = ["value"] if array.shape[1] == 1 else [f"x{i}" for i in range(array.shape[1])]
    return _build(pd.DataFrame(array, columns=columns), None, name)


def _from_frame(frame: pd.DataFrame, time_column: str | None, name: str) -> Series:
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    if time_column is not None:
        if time_column not in frame.columns:
            raise ValueError(
                f"time_column {time_column!r} is not a column of {name}: {list(frame.columns)}"
            )
        times = _parse_times(frame[time_column], time_column)
        frame = frame.drop(columns=time_column)
    elif isinstance(frame.index, pd.DatetimeIndex):
        times = pd.DatetimeIndex(frame.index)
    else:
        datetimes = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        if len(datetimes) > 1:
            raise ValueError(
                f"{name} has several datetime columns {datetimes}; name one with time_column"
            )
        times = None
        if datetimes:
            times = pd.DatetimeIndex(frame[datetimes[0]])
            frame = frame.drop(columns=datetimes[0])
    return _build(frame.reset_index(drop=True), times, name)


def _parse_times(column: pd.Series, label: str) -> pd.DatetimeIndex:
    try:
        with warnings.catch_warnings():  # pandas notes when it parses element by element
            warnings.simplefilter("ignore", UserWarning)
            return pd.DatetimeIndex(pd.to_datetime(column))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"time column {label!r} does not parse as timestamps: {exc}") from exc


def _build(frame: pd.DataFrame, times: pd.DatetimeIndex | None, name: str) -> Series:
    if frame.shape[1] == 0:
        raise ValueError(f"{name} has no value columns besides its time column")
    if frame.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    text = [
        c
        for c in frame.columns
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]
    if text:
        raise ValueError(
            f"{name} has non-numeric value column(s) {text}; a series holds numbers "
            "(drop the column, or name it as time_column if it holds timestamps)"
        )
    values = np.array(frame.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
    values[~np.isfinite(values)] = np.nan
    order = np.arange(len(frame))
    step, gaps, irregular = None, 0, False
    if times is not None:
        if times.isna().any():
            raise ValueError(f"{name} has {int(times.isna().sum())} missing timestamp(s)")
        times = times.as_unit("ns")  # asi8 below counts nanoseconds whatever the input unit
        order = np.argsort(times.asi8, kind="stable")
        times = times[order]
        values = values[order]
        repeated = times[times.duplicated()]
        if len(repeated):
            shown = [str(t) for t in repeated[:3]]
            raise ValueError(f"{name} has {len(repeated)} repeated timestamp(s), e.g. {shown}")
        if len(times) > 1:
            spacing = np.diff(times.asi8).astype(np.float64)
            median = float(np.median(spacing))
            step = pd.Timedelta(int(median), unit="ns")
            gaps = int((spacing > 1.5 * median).sum())
            irregular = bool(spacing.max() - spacing.min() > 0.01 * median)
    return Series(values, list(frame.columns), times, order, step, gaps, irregular)
