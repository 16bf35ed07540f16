"""``MatrixProfile``: matrix-profile discords against the training series (stumpy AB-join).

Each subsequence of ``window`` steps of the scored series is compared, z-normalised, with
every subsequence of the training series (``stumpy.stump`` with ``T_B`` = training, an
AB-join); its distance to the nearest one is its discord score. Normal shapes recur in
training and score low; a shape training never showed scores high. Per channel, then
averaged over channels; distances are divided by ``sqrt(window)`` so windows compare.

A subsequence's score is placed at its **last** step by default (``position="end"``): the
score of step t then uses only steps up to t, so streams work. ``position="centre"``
places it at the middle step (the usual choice for locating a discord offline, as in the
UCR archive's protocol), which looks ``window // 2`` steps ahead: batch scoring only.
``window=None`` picks the dominant period of the training series by autocorrelation,
clipped to 10..400 steps. Needs the optional ``stumpy`` package (``deepad[series]``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from deepad.models.series_base import SeriesDetector, check_window
from deepad.preprocess.series import dominant_period

_POSITIONS = ("end", "centre")


def _stumpy() -> Any:
    try:
        import stumpy
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "MatrixProfile needs the stumpy package: pip install 'deepad[series]' "
            "(or pip install stumpy)"
        ) from exc
    return stumpy


class MatrixProfile(SeriesDetector):
    """Distance of each subsequence to its nearest neighbour in the training series."""

    summary = "matrix-profile discords against training (stumpy); classical shape baseline"
    native_explain_methods = ("discord",)
    default_explain_method = "discord"

    def __init__(
        self,
        window: int | None = None,
        position: str = "end",
        contamination: float = 0.1,
    ) -> None:
        self.window = window
        self.position = position
        self.contamination = contamination

    def _check_params(self) -> None:
        super()._check_params()
        if self.window is not None:
            check_window(self.window, minimum=3)
        if self.position not in _POSITIONS:
            raise ValueError(f"position must be one of {_POSITIONS}, got {self.position!r}")

    def _min_fit_steps(self) -> int:
        return 2 * int(self.window) if self.window is not None else 30

    def _context_length(self) -> int:
        return int(self.window_) - 1 if hasattr(self, "window_") else 0

    def _fit_steps(self, scaled: np.ndarray) -> None:
        _stumpy()
        window = self.window if self.window is not None else dominant_period(scaled, 10, 400)
        self.window_ = int(min(window, len(scaled) // 2))
        self.reference_ = np.ascontiguousarray(scaled, dtype=np.float64)

    def _distances(self, scaled: np.ndarray) -> np.ndarray:
        """Per-step, per-channel nearest-neighbour distances (0 where no subsequence lands)."""
        m = self.window_
        out = np.zeros(scaled.shape)
        if len(scaled) < m:
            return out
        profile = _profile_per_channel(scaled, self.reference_, m)
        offset = m - 1 if self.position == "end" else m // 2
        out[offset : offset + len(profile)] = profile
        return out

    def _channel_scores(self, scaled: np.ndarray) -> tuple[np.ndarray, None]:
        return self._distances(scaled), None

    def _score_continuation(self, raw: np.ndarray) -> np.ndarray:
        if self.position != "end":
            raise ValueError(
                "position='centre' looks window // 2 steps ahead, so it cannot score a stream; "
                "use position='end' for score_one / process"
            )
        return super()._score_continuation(raw)

    def _export_series(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"window": self.window_}, {"reference": self.reference_}

    def _import_series(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.window_ = int(meta["window"])
        self.reference_ = np.asarray(arrays["reference"], dtype=np.float64)


class HybridDiscord(MatrixProfile):
    """Matrix-profile discords plus first-difference jumps, each in robust training units.

    A discord score misses what z-normalisation hides (a jump in level, a spike inside a
    familiar shape), and a jump score misses a strange shape made of small steps; summing
    the two, each as ``(value - median) / MAD`` of its own distribution on training data,
    catches both. The discord's distribution comes from the last 20% of the training steps
    joined against the first 80% (out of sample, as new data will be); the jump's from
    ``|x_t - x_{t-1}|`` over training. Per channel, then averaged over channels.
    """

    summary = "matrix-profile discords + first-difference jumps in robust units; shape + level"
    native_explain_methods = ("hybrid",)
    default_explain_method = "hybrid"

    def _min_fit_steps(self) -> int:
        return max(super()._min_fit_steps(), 60)

    def _fit_steps(self, scaled: np.ndarray) -> None:
        super()._fit_steps(scaled)
        split = int(0.8 * len(scaled))
        held_out, reference = scaled[split:], scaled[:split]
        m = self.window_
        jumps = np.abs(np.diff(scaled, axis=0))
        self.jump_centre_, self.jump_spread_ = _robust_location(jumps)
        if len(held_out) >= m and len(reference) >= m:
            distances = _profile_per_channel(held_out, reference, m)
        else:  # too short to hold out: in-sample distances (a lower, stricter centre)
            distances = self._distances(scaled)
        self.discord_centre_, self.discord_spread_ = _robust_location(distances)

    def _parts(self, scaled: np.ndarray) -> np.ndarray:
        discord = (self._distances(scaled) - self.discord_centre_) / self.discord_spread_
        jumps = np.zeros_like(scaled)
        jumps[1:] = np.abs(np.diff(scaled, axis=0))
        jump = (jumps - self.jump_centre_) / self.jump_spread_
        return discord + jump

    def _context_length(self) -> int:
        return max(super()._context_length(), 1)

    def _channel_scores(self, scaled: np.ndarray) -> tuple[np.ndarray, None]:
        return self._parts(scaled), None

    def _export_series(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super()._export_series()
        for name in ("jump_centre_", "jump_spread_", "discord_centre_", "discord_spread_"):
            arrays[name] = getattr(self, name)
        return meta, arrays

    def _import_series(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._import_series(meta, arrays)
        for name in ("jump_centre_", "jump_spread_", "discord_centre_", "discord_spread_"):
            setattr(self, name, np.asarray(arrays[name], dtype=np.float64))


def _profile_per_channel(values: np.ndarray, reference: np.ndarray, m: int) -> np.ndarray:
    """Nearest-neighbour distance / sqrt(m) of each subsequence of ``values`` in ``reference``."""
    stumpy = _stumpy()
    out = []
    for c in range(values.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            profile = stumpy.stump(
                np.ascontiguousarray(values[:, c]),
                m,
                T_B=np.ascontiguousarray(reference[:, c]),
                ignore_trivial=False,
            )[:, 0].astype(np.float64)
        profile[~np.isfinite(profile)] = 0.0
        out.append(profile / np.sqrt(m))
    return np.stack(out, axis=1)


def _robust_location(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column median and MAD (scaled to a normal's sigma), the MAD floored at 1e-6 of
    the column's scale so constant parts do not divide by zero."""
    centre = np.median(values, axis=0)
    spread = 1.4826 * np.median(np.abs(values - centre), axis=0)
    floor = 1e-6 * np.maximum(np.abs(values).max(axis=0), 1.0)
    return centre, np.maximum(spread, floor)
