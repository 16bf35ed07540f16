"""``SeriesDetector``: the contract for time series and streams, one score per time step.

``fit(X)`` takes a DataFrame with a time column (or ``DatetimeIndex``) and numeric value
columns, or an array (steps x channels); ``decision_function(X)`` returns one score per
input row, aligned with the rows as given. Every score is **causal**: the score of step t
uses only steps up to t, so the batch scores, the streaming scores of ``score_one`` and
those of ``process`` are the same numbers (to float32 rounding for float32 networks).

What the base does once for every series detector:

- rows go in time order (``deepad.io.series``); repeated timestamps are refused;
  irregular spacing is accepted and treated as equally spaced steps (``series_info_``
  records the spacing and gaps), since the models see steps, not clock time;
- channels are scaled robustly and gaps filled causally with the last observed value
  (``deepad.preprocess.series``);
- **temporal calibration**: the *last* ``calibration_size`` steps of the training series
  are held out of training (not random rows: overlapping windows would leak), scored
  causally with the history before them, and their scores make the conformal p-values.
  Steps of one series are not exchangeable, so the stated false-positive rate holds on
  average over a stationary stretch, not for each step.
- streams: after ``fit`` the last steps of training are kept as context, so
  ``score_one(x)`` / ``learn_one(x)`` (river's style) continue where training ended;
  the context is saved in the bundle and resumes after ``deepad.load``.

Detectors with a ``smoothing`` param (the deep ones, default 10) score a step by the mean
of the raw scores of the last ``smoothing`` steps (fewer during warm-up): still causal, and
range anomalies stand out from single-step noise. Explanations are smoothed alike, so
they still add up to the score.

Subclasses implement ``_fit_steps(Z)``, ``_channel_scores(Z)`` (causal per-step,
per-channel scores of the scaled, filled values, and what the model expected there or
None; a step's score is their mean over the channels, so they are also its explanation),
``_context_length()`` (how many past steps a score needs), and the export/import of
their learned state.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from deepad.core.base import BaseDetector, _check_labels
from deepad.io.series import Series, as_series
from deepad.preprocess.series import SeriesScaler, fill_forward

#: share of the training steps held out (at the end) to calibrate, with "auto"
AUTO_CALIBRATION_SHARE = 0.2


class SeriesDetector(BaseDetector):
    """Base class of the time-series detectors; not used directly."""

    modality: ClassVar[str] = "series"
    default_explain_method: ClassVar[str] = "residual"
    native_explain_methods: ClassVar[tuple[str, ...]] = ("residual",)
    #: the model learns during ``learn_one`` / ``process`` (``adapt_every``) when set
    supports_adaptation: ClassVar[bool] = False

    # ------------------------------------------------------------ contract
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        time_column: str | None = None,
        calibration_size: int | float | str = "auto",
    ) -> Any:
        """Learn normal behaviour from the series ``X`` (steps x channels).

        ``y`` (optional, one 0/1 per step) only keeps steps labelled 1 out of calibration.
        ``calibration_size``: steps held out at the *end* of ``X`` ("auto": 20% when the
        rest still holds enough steps to train on; a fraction; a count; 0 for none).
        """
        self._check_params()
        series = as_series(X, time_column=time_column)
        n_steps = len(series.values)
        n_calibration = self._calibration_steps(n_steps, calibration_size)
        n_fit = n_steps - n_calibration
        if n_fit < self._min_fit_steps():
            raise ValueError(
                f"{type(self).__name__} needs at least {self._min_fit_steps()} training steps "
                f"(after {n_calibration} held out for calibration); X has {n_steps}"
            )
        self.scaler_ = SeriesScaler.fit(series.values[:n_fit])
        self.channels_ = list(series.columns)
        self.feature_names_in_ = np.asarray(self.channels_, dtype=object)
        self.n_features_in_ = len(self.channels_)
        self.time_column_ = time_column
        self.training_rows_ = n_steps
        self.training_fingerprint_ = _fingerprint(series)
        self.series_info_ = _describe(series)
        self.typical_ = _typical_ranges(series.values[:n_fit])
        scaled = self.scaler_.transform(series.values)
        self._fit_steps(scaled[:n_fit])
        scores = self._scores(scaled)
        self.decision_scores_ = series.to_input_order(scores)
        held_out = np.arange(n_fit, n_steps)
        if y is not None:
            labels = series.to_time_order(_check_labels(y, n_steps))
            held_out = held_out[labels[held_out] != 1]
        self.calibration_rows_ = np.sort(series.order[held_out])
        self._start_calibration(scores[held_out], scores)
        self._start_stream(self.scaler_.inverse(scaled))
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score per row of ``X`` (aligned with its rows), causal, float64.

        The series starts fresh: its first steps have less history than a full window.
        To score a continuation of the training series with full history, use
        ``process`` (or ``score_one``), which starts from the context kept at ``fit``.
        """
        self._check_fitted()
        series = self._series(X)
        scaled = self.scaler_.transform(series.values)
        return series.to_input_order(self._scores(scaled))

    # ------------------------------------------------------------- streams
    def score_one(self, x: Any) -> float:
        """Score of the next step ``x`` (a number, a sequence of channel values, or a dict
        by channel name) given the stream so far; the stream is not changed."""
        self._check_fitted()
        row = self._one_row(x)
        return float(self._score_continuation(row)[-1])

    def learn_one(self, x: Any) -> Any:
        """Append the step ``x`` to the stream context (and, with ``adapt_every``, adapt)."""
        self._check_fitted()
        self._append(self._one_row(x))
        return self

    def process(self, X: Any, *, learn: bool = True) -> np.ndarray:
        """Scores of the steps of ``X`` as a continuation of the stream, in one call.

        Equal to calling ``score_one(x)`` then (with ``learn``) ``learn_one(x)`` for each
        row in time order; the scores are returned aligned with the rows of ``X``.
        """
        self._check_fitted()
        series = self._series(X)
        values = series.values
        scores = np.empty(len(values), dtype=np.float64)
        chunk = self._adapt_chunk() if learn else len(values)
        for start in range(0, len(values), max(chunk, 1)):
            part = values[start : start + chunk]
            scores[start : start + len(part)] = self._score_continuation(part)
            if learn:
                self._append(part)
        return series.to_input_order(scores)

    def reset_stream(self) -> Any:
        """Forget the stream context: the next step is scored as the start of a series."""
        self._check_fitted()
        self.stream_context_ = np.empty((0, self.n_features_in_))
        self.stream_seen_ = 0
        return self

    # ---------------------------------------------------------- explanation
    def explain(self, X: Any, *, top: int = 3, method: str = "auto") -> Any:
        """Per (time step, channel) contributions to each step's score.

        Rows are the steps of ``X`` (in its row order), columns its channels; with the
        ``residual`` method the contributions sum to the score and ``expected`` holds the
        model's prediction or reconstruction in input units.
        """
        from deepad.explain.fold import describe_range  # explain sits above models
        from deepad.explain.result import Explanation, check_top

        self._check_fitted()
        allowed = self.native_explain_methods
        chosen = allowed[0] if method == "auto" else method
        if chosen not in allowed:
            raise ValueError(
                f"{type(self).__name__} cannot be explained with method={method!r}; "
                f"choose one of {['auto', *allowed]}"
            )
        series = self._series(X)
        scaled = self.scaler_.transform(series.values)
        parts, expected = self._channel_scores(scaled)
        contributions = trailing_mean(parts / parts.shape[1], self._smoothing())
        scores = trailing_mean(parts.mean(axis=1), self._smoothing())
        index = pd.RangeIndex(len(series.values))

        def frame(block: np.ndarray) -> pd.DataFrame:
            in_rows = block[np.argsort(series.order)]
            return pd.DataFrame(in_rows, columns=self.channels_, index=index)

        return Explanation(
            method=chosen,
            scores=series.to_input_order(scores),
            contributions=frame(contributions),
            values=frame(series.values),
            typical={
                channel: "never observed" if typical is None else describe_range(*typical)
                for channel, typical in zip(self.channels_, self.typical_, strict=True)
            },
            expected=None if expected is None else frame(self.scaler_.inverse(expected)),
            top_k=check_top(top),
        )

    # --------------------------------------------------------------- hooks
    def _fit_steps(self, scaled: np.ndarray) -> None:
        raise NotImplementedError

    def _channel_scores(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(scores (steps, channels), expected (steps, channels) or None)``, causal."""
        raise NotImplementedError

    def _context_length(self) -> int:
        """Past steps (before t) that the score of step t can depend on."""
        raise NotImplementedError

    def _min_fit_steps(self) -> int:
        return 2

    def _adapt(self, recent: np.ndarray) -> None:
        """Update the model on recent scaled steps (only with ``supports_adaptation``)."""

    def _export_series(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {}

    def _import_series(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore the learned state written by ``_export_series``."""

    # ----------------------------------------------------------- internals
    def _smoothing(self) -> int:
        return int(getattr(self, "smoothing", 1) or 1)

    def _history_length(self) -> int:
        """Past steps a (smoothed) score of step t depends on: the stream keeps these."""
        return self._context_length() + self._smoothing() - 1

    def _scores(self, scaled: np.ndarray) -> np.ndarray:
        """The causal score of every step: raw step scores, smoothed when asked."""
        parts, _ = self._channel_scores(scaled)
        return trailing_mean(parts.mean(axis=1), self._smoothing())

    def _calibration_steps(self, n_steps: int, size: int | float | str) -> int:
        wrong = f"calibration_size must be 'auto', a fraction or a count, got {size!r}"
        if isinstance(size, str):
            if size != "auto":
                raise ValueError(wrong)
            held = int(AUTO_CALIBRATION_SHARE * n_steps)
            return held if n_steps - held >= 2 * self._min_fit_steps() else 0
        if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)):
            raise ValueError(wrong)
        if isinstance(size, (float, np.floating)) and 0 < size < 1:
            return int(size * n_steps)
        if size < 0 or size != int(size) or size >= n_steps:
            raise ValueError(
                f"calibration_size must be a fraction in (0, 1) or a count in [0, {n_steps}), "
                f"got {size!r}"
            )
        return int(size)

    def _series(self, X: Any) -> Series:
        """``X`` as a series with this detector's channels, in the training order."""
        time_column = self.time_column_
        if isinstance(X, pd.DataFrame):
            X = X.set_axis([str(c) for c in X.columns], axis=1)
            if time_column is not None and time_column not in X:
                time_column = None  # a frame with a DatetimeIndex instead
            missing = [c for c in self.channels_ if c not in X.columns]
            if missing:
                raise ValueError(
                    f"X lacks the channel(s) {missing} this detector was trained on "
                    f"({self.channels_})"
                )
            keep = (
                [time_column]
                if time_column is not None
                else [
                    c
                    for c in X.columns
                    if c not in self.channels_ and pd.api.types.is_datetime64_any_dtype(X[c])
                ]
            )  # as_series finds the time column among these (or refuses several)
            X = X[keep + list(self.channels_)]  # ids and other columns are not channels
        series = as_series(X, time_column=time_column)
        if series.columns == self.channels_:  # always so for a frame, narrowed above
            return series
        if series.values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {series.values.shape[1]} channel(s); this detector was trained on "
                f"{self.n_features_in_}"
            )
        return Series(series.values, list(self.channels_), None, series.order, None, 0, False)

    def _one_row(self, x: Any) -> np.ndarray:
        """One step as a (1, channels) float array, or a ValueError naming the problem."""
        if isinstance(x, dict):
            missing = [c for c in self.channels_ if c not in x]
            if missing:
                raise ValueError(f"the step lacks channel(s) {missing}")
            x = [x[c] for c in self.channels_]
        try:
            row = np.array(x, dtype=np.float64).reshape(1, -1)  # a copy: never the caller's
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a step must be numeric channel values, got {x!r}") from exc
        if row.shape[1] != self.n_features_in_:
            raise ValueError(
                f"a step needs {self.n_features_in_} channel value(s) {self.channels_}, "
                f"got {row.shape[1]}"
            )
        row[~np.isfinite(row)] = np.nan
        return row

    def _start_stream(self, filled_raw: np.ndarray) -> None:
        keep = self._kept_steps()
        self.stream_context_ = np.array(filled_raw[-keep:] if keep else filled_raw[:0])
        self.stream_seen_ = 0

    def _adapt_every(self) -> int | None:
        """Steps between online adaptations, or None when the detector does not adapt."""
        every = getattr(self, "adapt_every", None) if self.supports_adaptation else None
        return int(every) if every else None

    def _kept_steps(self) -> int:
        return self._history_length() + (self._adapt_every() or 0)

    def _filled(self, raw: np.ndarray) -> np.ndarray:
        carry = (
            self.stream_context_[-1].copy()
            if len(self.stream_context_)
            else np.full(raw.shape[1], np.nan)
        )
        return fill_forward(raw, self.scaler_.centre, carry)

    def _score_continuation(self, raw: np.ndarray) -> np.ndarray:
        """Causal scores of the raw steps ``raw`` following the stream context."""
        context = self.stream_context_
        context = context[max(len(context) - self._history_length(), 0) :]
        joined = np.concatenate([context, self._filled(raw)])
        return self._scores(self.scaler_.transform(joined))[len(context) :]

    def _append(self, raw: np.ndarray) -> None:
        filled = self._filled(raw)
        keep = self._kept_steps()
        joined = np.concatenate([self.stream_context_, filled])
        before = self.stream_seen_
        self.stream_seen_ += len(filled)
        every = self._adapt_every()
        if every and self.stream_seen_ // every > before // every:
            self._adapt(self.scaler_.transform(joined))
        self.stream_context_ = joined[-keep:] if keep else joined[:0]

    def _adapt_chunk(self) -> int:
        every = self._adapt_every()
        return every - self.stream_seen_ % every if every else 1 << 62

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) with a series first"
            )

    # --------------------------------------------------------- persistence
    def _schema_state(self) -> dict[str, Any]:
        return {
            "kind": "series",
            "channels": list(self.channels_),
            "time_column": self.time_column_,
            "scaler": self.scaler_.to_dict(),
            "typical": list(self.typical_),
            "series": self.series_info_,
        }

    def _restore_schema(self, state: dict[str, Any]) -> None:
        self.channels_ = list(state["channels"])
        self.time_column_ = state["time_column"]
        self.scaler_ = SeriesScaler.from_dict(state["scaler"])
        self.typical_ = list(state["typical"])
        self.series_info_ = dict(state["series"])

    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = self._export_series()
        arrays = {**arrays, "stream.context": np.ascontiguousarray(self.stream_context_)}
        return {**meta, "stream_seen": int(self.stream_seen_)}, arrays

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.stream_context_ = np.array(arrays.pop("stream.context"), dtype=np.float64)
        self.stream_seen_ = int(meta.get("stream_seen", 0))
        self._import_series(meta, arrays)


def _fingerprint(series: Series) -> str:
    digest = hashlib.sha256()
    digest.update("\x1f".join(series.columns).encode())
    digest.update(np.ascontiguousarray(series.values).tobytes())
    if series.timestamps is not None:
        digest.update(series.timestamps.asi8.tobytes())
    return "sha256:" + digest.hexdigest()


def _describe(series: Series) -> dict[str, Any]:
    return {
        "steps": len(series.values),
        "step": None if series.step is None else str(series.step),
        "gaps": int(series.gaps),
        "irregular": bool(series.irregular),
        "missing_values": series.n_missing,
    }


def _typical_ranges(values: np.ndarray) -> list[list[float] | None]:
    """Per channel the 5th and 95th percentiles of the training values (None if never
    observed): the "typical" range explanations show, as for table columns."""
    out: list[list[float] | None] = []
    for c in range(values.shape[1]):
        observed = values[:, c][~np.isnan(values[:, c])]
        out.append([float(v) for v in np.percentile(observed, [5, 95])] if observed.size else None)
    return out


def trailing_mean(values: np.ndarray, steps: int) -> np.ndarray:
    """Mean of each step's value and the ``steps - 1`` before it (fewer at the start), along
    the first axis; every output is computed from its own window, so pieces of a stream
    give the same numbers as the whole."""
    values = np.asarray(values, dtype=np.float64)
    if steps <= 1 or not len(values):
        return values
    padded = np.concatenate([np.full((steps - 1, *values.shape[1:]), np.nan), values])
    windows = np.lib.stride_tricks.sliding_window_view(padded, steps, axis=0)
    counts = np.minimum(np.arange(1, len(values) + 1), steps)
    total = np.nansum(windows, axis=-1)
    return total / counts.reshape(-1, *([1] * (values.ndim - 1)))


def check_window(value: Any, name: str = "window", minimum: int = 2) -> int:
    """A window length as a positive int >= ``minimum``, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_adapt_every(value: Any) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1
    ):
        raise ValueError(f"adapt_every must be a positive int or None, got {value!r}")


__all__ = ["SeriesDetector", "check_adapt_every", "check_window"]
