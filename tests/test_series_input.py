"""Time series input: time columns, order, gaps, missing values and clear refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepad.io.series import as_series


def _frame(n: int = 10) -> pd.DataFrame:
    times = pd.date_range("2026-01-01", periods=n, freq="min")
    return pd.DataFrame({"ts": times, "cpu": np.arange(n, dtype=float), "mem": 2.0 * np.arange(n)})


def test_datetime_column_is_found_and_spacing_described():
    series = as_series(_frame())
    assert series.columns == ["cpu", "mem"]
    assert series.values.shape == (10, 2)
    assert series.step == pd.Timedelta(minutes=1)
    assert series.gaps == 0 and not series.irregular


def test_named_time_column_is_parsed_from_text():
    frame = _frame().assign(ts=lambda f: f["ts"].astype(str))
    series = as_series(frame, time_column="ts")
    assert series.timestamps[0] == pd.Timestamp("2026-01-01")


def test_datetime_index_is_used():
    frame = _frame().set_index("ts")
    assert as_series(frame).step == pd.Timedelta(minutes=1)


def test_unsorted_rows_are_ordered_and_scores_map_back():
    frame = _frame().iloc[[3, 0, 2, 1, 4, 5, 6, 7, 8, 9]]
    series = as_series(frame)
    assert list(series.values[:4, 0]) == [0.0, 1.0, 2.0, 3.0]
    per_step = series.values[:, 0] * 10  # a "score" per step, in time order
    assert list(series.to_input_order(per_step)[:4]) == [30.0, 0.0, 20.0, 10.0]


def test_gaps_and_irregular_spacing_are_counted():
    frame = _frame().drop(index=[4, 5])  # a 3-minute hole
    series = as_series(frame)
    assert series.gaps == 1 and series.irregular
    assert series.step == pd.Timedelta(minutes=1)


def test_missing_values_stay_nan_and_are_counted():
    frame = _frame()
    frame.loc[2, "cpu"] = np.nan
    frame.loc[3, "mem"] = np.inf
    series = as_series(frame)
    assert series.n_missing == 2
    assert np.isnan(series.values[3, 1])


def test_arrays_have_no_timestamps():
    one = as_series(np.arange(5.0))
    assert one.columns == ["value"] and one.timestamps is None and one.step is None
    two = as_series(np.zeros((5, 3)))
    assert two.columns == ["x0", "x1", "x2"]


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (lambda: _frame().assign(host="a"), {}, r"non-numeric value column\(s\) \['host'\]"),
        (lambda: pd.concat([_frame(), _frame().iloc[:2]]), {}, "2 repeated timestamp"),
        (lambda: _frame(), {"time_column": "when"}, "time_column 'when' is not a column"),
        (lambda: _frame().assign(t2=lambda f: f["ts"]), {}, "several datetime columns"),
        (lambda: _frame()[["ts"]], {}, "no value columns"),
        (lambda: _frame().assign(ts="not a time"), {"time_column": "ts"}, "does not parse"),
        (lambda: np.zeros((2, 2, 2)), {}, "1-D or 2-D"),
        (lambda: np.zeros(3), {"time_column": "ts"}, "needs a DataFrame"),
        (lambda: _frame().iloc[:0], {}, "no rows"),
    ],
)
def test_bad_series_are_refused_by_name(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        as_series(make(), **kwargs)
