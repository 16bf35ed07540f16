"""Series values -> model inputs: per-channel robust scaling, causal gap filling, windows.

Every series detector sees its channels centred on the training median and divided by a
robust spread (IQR / 1.349, falling back on the standard deviation, then 1), so one
configuration works whatever the units. Missing values are filled *causally*: a gap
takes the channel's last observed value (its training median when nothing was observed
yet), so a score at time t never depends on anything after t. ``carry`` holds the last
observed value per channel, so a stream filled in pieces matches one filled at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: a robust spread this small (relative to the channel's level) counts as a constant channel
_FLAT = 1e-12


@dataclass
class SeriesScaler:
    """Per-channel centre and scale learned from training values (steps x channels)."""

    centre: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> SeriesScaler:
        """Median and robust spread per channel, ignoring NaN; constant channels get 1."""
        values = np.asarray(values, dtype=np.float64)
        n_channels = values.shape[1]
        centre = np.zeros(n_channels)
        scale = np.ones(n_channels)
        for c in range(n_channels):
            observed = values[:, c][~np.isnan(values[:, c])]
            if not observed.size:
                continue
            centre[c] = float(np.median(observed))
            q75, q25 = np.percentile(observed, [75, 25])
            spread = (q75 - q25) / 1.349
            if spread <= _FLAT * max(1.0, abs(centre[c])):
                spread = float(observed.std())
            if spread > _FLAT * max(1.0, abs(centre[c])):
                scale[c] = spread
        return cls(centre, scale)

    def transform(self, values: np.ndarray, carry: np.ndarray | None = None) -> np.ndarray:
        """Scaled float64 copy with gaps filled forward; ``carry`` (updated in place) is the
        last observed *raw* value per channel before ``values`` (NaN when none yet)."""
        filled = fill_forward(np.asarray(values, dtype=np.float64), self.centre, carry)
        return (filled - self.centre) / self.scale

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled values back in input units."""
        return scaled * self.scale + self.centre

    def to_dict(self) -> dict[str, Any]:
        return {"centre": self.centre.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SeriesScaler:
        return cls(np.asarray(state["centre"], dtype=np.float64), np.asarray(state["scale"]))


def fill_forward(
    values: np.ndarray, default: np.ndarray, carry: np.ndarray | None = None
) -> np.ndarray:
    """NaN replaced by the channel's last observed value (``carry`` before the first row,
    then ``default``); ``carry`` is updated in place to the last observed values."""
    out = np.array(values, dtype=np.float64, copy=True)
    start = np.full(out.shape[1], np.nan) if carry is None else carry
    if np.isnan(out).any():
        for c in np.flatnonzero(np.isnan(out).any(axis=0)):
            column = out[:, c]
            observed = ~np.isnan(column)
            last = np.maximum.accumulate(np.where(observed, np.arange(len(column)), -1))
            before = start[c] if not np.isnan(start[c]) else default[c]
            out[:, c] = np.where(last >= 0, column[np.maximum(last, 0)], before)
    if carry is not None and len(out):
        observed_any = ~np.isnan(values).all(axis=0) if np.isnan(values).any() else None
        if observed_any is None:
            carry[:] = out[-1]
        else:
            carry[observed_any] = out[-1][observed_any]
    return out


def sliding_windows(values: np.ndarray, length: int) -> np.ndarray:
    """The window of ``length`` steps ending at each step (``(steps, length, channels)``,
    a read-only view); steps before the first full window see the first row repeated."""
    padded = left_pad(values, length - 1)
    view = np.lib.stride_tricks.sliding_window_view(padded, length, axis=0)
    return view.transpose(0, 2, 1)


def left_pad(values: np.ndarray, steps: int) -> np.ndarray:
    """``values`` with its first row repeated ``steps`` times in front (warm-up context)."""
    if steps <= 0:
        return values
    return np.concatenate([np.repeat(values[:1], steps, axis=0), values], axis=0)


def dominant_period(values: np.ndarray, low: int = 10, high: int = 400) -> int:
    """The lag of the highest autocorrelation peak of the first channel, within [low, high].

    The usual default window for subsequence methods (matrix profile): one cycle of the
    series. Falls back on ``low`` when the series is too short or has no peak.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[:, 0] if x.ndim == 2 else x
    x = x[~np.isnan(x)]
    if len(x) < 3 * low:
        return low
    x = x - x.mean()
    size = 1 << int(np.ceil(np.log2(2 * len(x))))
    spectrum = np.fft.rfft(x, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: len(x)]
    if acf[0] <= 0:
        return low
    acf = acf / acf[0]
    top = min(high, len(x) // 3)
    if top <= low:
        return low
    segment = acf[low : top + 1]
    peaks = np.flatnonzero((segment[1:-1] > segment[:-2]) & (segment[1:-1] >= segment[2:])) + 1
    if not peaks.size:
        return low
    return int(low + peaks[np.argmax(segment[peaks])])
