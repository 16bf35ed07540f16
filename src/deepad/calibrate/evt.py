"""Peaks-over-threshold (extreme value) thresholds for anomaly scores.

Above a high threshold ``t``, the excesses ``score - t`` of almost any continuous score
distribution are close to a generalized Pareto distribution (GPD; Pickands-Balkema-de Haan
theorem). Fitting that GPD to the peaks gives the score ``z_q`` exceeded with probability
``q`` even where ``q`` is finer than the sample resolves (fewer than ``1 / q`` rows), which
an empirical quantile cannot do. :class:`SPOT` is the streaming version of Siffer et al.,
"Anomaly Detection in Streams with Extreme Value Theory" (KDD 2017): it flags scores above
``z_q`` and keeps refitting the tail on the non-alarm peaks of the stream.

The estimate assumes the tail above the ``level`` quantile is GPD-shaped; unlike the
conformal rules it carries no finite-sample guarantee.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import genpareto
from sklearn.exceptions import NotFittedError

from deepad.calibrate.conformal import as_scores

__all__ = ["SPOT", "fit_gpd", "pot_threshold", "rule_level"]

#: fewest peaks above the initial threshold a GPD is fitted on
MIN_PEAKS = 10

#: SPOT refits the GPD once the peaks have grown by this share since the last fit (at
#: least one peak): ~1% more data moves the MLE by ~1% of its standard error, and it keeps
#: the cost of a stream O(peaks log peaks) passes instead of O(peaks^2)
REFIT_GROWTH = 0.01

#: warm-started refit: half-width of the first theta window (relative) and its tolerance
_SEARCH_WIDTH = 0.02
_SEARCH_XTOL = 1e-8

#: |shape| below this is treated as 0 (the exponential limit of the GPD)
_ZERO_SHAPE = 1e-12

#: the MLE is only regular for shape > -1 (Smith, 1985); below that the likelihood is
#: unbounded at the sample maximum, so estimates there are treated as failures
_MIN_SHAPE = -1.0


# ---------------------------------------------------------------------------- checks
def _check_level(level: float) -> float:
    level = _as_number(level, "level")
    if not 0.0 < level < 1.0:
        raise ValueError(
            f"level (the quantile the peaks start above) must be in (0, 1), got {level!r}"
        )
    return level


def _check_q(q: float, level: float) -> float:
    q = _as_number(q, "q")
    if not 0.0 < q < 1.0:
        raise ValueError(f"q (the target exceedance probability) must be in (0, 1), got {q!r}")
    if q >= 1.0 - level:
        raise ValueError(
            f"q={q:g} must be smaller than 1 - level = {1.0 - level:g}: the threshold is "
            "extrapolated beyond the level quantile; lower level or q"
        )
    return q


def _as_number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


def _peaks(scores: np.ndarray, level: float) -> tuple[float, np.ndarray]:
    """``t`` = the ``level`` quantile of ``scores`` and the excesses above it."""
    n = scores.size
    needed = math.ceil(MIN_PEAKS / (1.0 - level))
    if n == 0:
        raise ValueError(
            f"no scores given; peaks-over-threshold at level={level:g} needs at least {needed}"
        )
    t = float(np.quantile(scores, level))
    excesses = scores[scores > t] - t
    if excesses.size < MIN_PEAKS:
        raise ValueError(
            f"peaks-over-threshold needs at least {MIN_PEAKS} scores above the level={level:g} "
            f"quantile, got {excesses.size} from {n} scores: give at least {needed} distinct-"
            "valued scores or lower level"
        )
    return t, excesses


# ---------------------------------------------------------------------------- GPD fit
def _moments_gpd(excesses: np.ndarray) -> tuple[float, float]:
    """Method-of-moments GPD: ``mean = s / (1 - g)``, ``var = s^2 / ((1 - g)^2 (1 - 2 g))``.

    Always gives ``g < 1/2``; equal excesses (no spread) give the exponential with their mean.
    """
    mean = float(np.mean(excesses))
    var = float(np.var(excesses, ddof=1)) if excesses.size > 1 else 0.0
    if not var > 0.0:
        return 0.0, mean
    ratio = mean * mean / var
    return 0.5 * (1.0 - ratio), 0.5 * mean * (ratio + 1.0)


def _usable(shape: float, scale: float, largest: float) -> bool:
    """A finite fit that is regular (shape > -1) and keeps every excess in its support."""
    if not (math.isfinite(shape) and math.isfinite(scale)) or scale <= 0.0:
        return False
    if shape <= _MIN_SHAPE:
        return False
    return shape >= 0.0 or largest < -scale / shape


def fit_gpd(excesses: np.ndarray) -> tuple[float, float]:
    """(shape gamma, scale sigma) of a generalized Pareto fitted to positive excesses.

    Maximum likelihood with the location fixed at 0 (``scipy.stats.genpareto.fit(...,
    floc=0)``), on the excesses divided by their mean so the optimiser sees unit scale
    whatever the score units. Falls back to the method-of-moments estimate when the MLE
    fails, is non-finite, has shape <= -1 (where the MLE is not regular) or leaves an excess
    outside its support. Shape 0 is the exponential tail.
    """
    y = as_scores(excesses, "excesses")
    if y.size < 2:
        raise ValueError(f"a GPD fit needs at least 2 excesses, got {y.size}")
    if (y <= 0.0).any():
        raise ValueError(f"excesses must be > 0, got {int((y <= 0.0).sum())} that are not")
    unit = float(np.mean(y))
    y = y / unit
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            shape, _, scale = genpareto.fit(y, floc=0.0)
        shape, scale = float(shape), float(scale)
    except Exception:  # any optimiser failure: fall back to the moments below
        shape, scale = math.nan, math.nan
    if not _usable(shape, scale, float(y.max())):
        shape, scale = _moments_gpd(y)
    return shape, scale * unit


def _transformed(theta: float, values: np.ndarray) -> np.ndarray:
    """``log1p(theta x) / theta`` (``x`` at theta = 0): positive, smooth through theta = 0."""
    if theta == 0.0:
        return values
    return np.log1p(theta * values) / theta


def _solve_rate(n: int, total: float, limits: np.ndarray, start: float = math.nan) -> float:
    """The ``s > 0`` maximising ``n log s - s total - sum(log(1 - exp(-s limits)))``.

    Its derivative falls from +inf to ``-total`` and the function is strictly concave (each
    truncation term's curvature is at most ``1 / s^2`` and there are fewer than ``n``), so
    the root lies in ``[(n - m) / total, n / total]``: safeguarded Newton inside that
    bracket, from ``start`` when it is inside.
    """
    low, high = (n - limits.size) / total, n / total
    if limits.size == 0:
        return high
    rate = start if low < start < high else 0.5 * (low + high)
    for _ in range(60):
        e = np.expm1(np.minimum(rate * limits, 700.0))
        ratio = limits / e
        slope = n / rate - total - float(np.sum(ratio))
        curve = float(np.dot(ratio * ratio, 1.0 + e)) - n / (rate * rate)
        if slope > 0.0:
            low = rate
        else:
            high = rate
        step = rate - slope / curve if curve < 0.0 else math.nan
        if not low < step < high:
            step = 0.5 * (low + high)
        if abs(step - rate) <= 1e-12 * rate:
            return step
        rate = step
    return rate


def _profile(
    theta: float, y: np.ndarray, limits: np.ndarray, start: float = math.nan
) -> tuple[float, float, float]:
    """(minus the log-likelihood per peak, shape, scale), maximised over the scale at ``theta``.

    ``theta = shape / scale``; peak ``i`` is a GPD excess observed only because it was at
    most ``limits[i]`` (``inf``: not truncated). With ``a_i = log1p(theta y_i) / theta``,
    ``l_j = log1p(theta limits_j) / theta`` and ``s = 1 / scale`` the log-likelihood is
    ``n log s - theta sum(a) - s sum(a) - sum_j log(1 - exp(-s l_j))``, concave in ``s``
    (:func:`_solve_rate`, started at ``start``). Without truncation ``s = n / sum(a)`` and
    ``shape = theta mean(a)``: Grimshaw's reduction, used by Siffer et al.
    """
    if theta <= -1.0 / float(y.max()):
        return math.inf, math.nan, math.nan
    a = _transformed(theta, y)
    bounded = limits[np.isfinite(limits)]
    if theta < 0.0:  # a bound past the support's end truncates nothing
        bounded = bounded[theta * bounded > -1.0]
    total = float(np.sum(a))
    reach = _transformed(theta, bounded)
    rate = _solve_rate(y.size, total, reach, start)
    terms = float(np.sum(np.log(-np.expm1(-rate * reach))))
    loglik = y.size * math.log(rate) - (theta + rate) * total - terms
    if not math.isfinite(loglik):
        return math.inf, math.nan, math.nan
    return -loglik / y.size, theta / rate, 1.0 / rate


def _refit_gpd(
    excesses: np.ndarray, limits: np.ndarray, shape: float, scale: float
) -> tuple[float, float]:
    """The GPD MLE of truncated peaks, searched near a previous fit (warm start).

    ``limits[i]`` is the largest excess peak ``i`` could have had and still be learnt from
    (the alarm threshold minus t when it arrived; ``inf`` for the initial batch), so its
    likelihood is the GPD density divided by the GPD probability of staying below it.
    Maximises the profile likelihood of :func:`_profile` over ``theta = shape / scale``
    with bounded Brent in a window around the previous fit, widened while the optimum sits
    on its edge: one new peak moves the MLE by O(1 / n_peaks), so this takes ~10-20
    O(n) passes. Falls back to :func:`fit_gpd` (untruncated) when the search leaves the
    regular region (shape <= -1).
    """
    unit = float(np.mean(excesses))
    y, bounds = excesses / unit, limits / unit
    largest = float(y.max())
    lowest = -1.0 / largest  # theta > -1 / max(y) keeps every excess in the support
    floor = lowest * (1.0 - 1e-9)
    theta0 = max(shape / (scale / unit), lowest * (1.0 - 1e-6))
    last_rate = [unit / scale]

    def objective(theta: float) -> float:
        value, _, new_scale = _profile(theta, y, bounds, last_rate[0])
        if math.isfinite(value):
            last_rate[0] = 1.0 / new_scale
        return value

    width = _SEARCH_WIDTH * (1.0 + abs(theta0))
    for _ in range(8):
        low, high = max(theta0 - width, floor), theta0 + width
        tol = _SEARCH_XTOL * (1.0 + abs(theta0))
        result = minimize_scalar(
            objective, bounds=(low, high), method="bounded", options={"xatol": tol}
        )
        theta = float(result.x)
        near_low, near_high = theta - low < 10 * tol, high - theta < 10 * tol
        if near_low and low == floor:  # running into the support's edge: shape <= -1
            break
        if not (near_low or near_high):
            _, new_shape, new_scale = _profile(theta, y, bounds, last_rate[0])
            if _usable(new_shape, new_scale, largest):
                return new_shape, new_scale * unit
            break
        theta0, width = theta, width * 8.0
    return fit_gpd(excesses)


# ---------------------------------------------------------------------------- thresholds
def _quantile(t: float, shape: float, scale: float, ratio: float) -> float:
    """``z = t + scale / shape * (ratio ** -shape - 1)`` (``t - scale log(ratio)`` at shape 0).

    ``ratio = q / P(score > t)``: the probability of exceeding ``z`` given a peak.
    """
    log_ratio = math.log(ratio)
    if abs(shape) < _ZERO_SHAPE:
        return t - scale * log_ratio
    # expm1 keeps full precision for small shapes, where the two terms nearly cancel
    with np.errstate(over="ignore"):
        return t + scale * float(np.expm1(-shape * log_ratio)) / shape


def pot_threshold(scores: np.ndarray, q: float, level: float = 0.98) -> float:
    """Score ``z_q`` with estimated ``P(score > z_q) = q``, from a sample of scores.

    ``t`` = the ``level`` quantile, excesses = ``scores[scores > t] - t``, GPD fit
    (:func:`fit_gpd`), then
    ``z_q = t + sigma / gamma * ((q n / n_t) ** (-gamma) - 1)`` (gamma != 0) or
    ``z_q = t - sigma * log(q n / n_t)`` (gamma ~ 0). Reaches q finer than ``1 / n``, where
    the empirical quantile cannot go. Needs ``q < 1 - level`` and at least 10 scores above
    ``t`` (so at least ``10 / (1 - level)`` scores: 500 at the default level).
    """
    level = _check_level(level)
    q = _check_q(q, level)
    values = as_scores(scores)
    t, excesses = _peaks(values, level)
    shape, scale = fit_gpd(excesses)
    return _quantile(t, shape, scale, q * values.size / excesses.size)


#: a detector's ``evt`` rule fits the tail on about this many peaks ...
RULE_PEAKS = 30
#: ... above the ``level`` quantile, at most 0.98 (SPOT's default) and at least this
RULE_MIN_LEVEL = 0.8


def rule_level(n_scores: int) -> float:
    """The POT ``level`` a detector's ``evt`` rule uses for ``n_scores`` calibration scores.

    0.98 (Siffer et al.'s default) once that leaves :data:`RULE_PEAKS` peaks (1,500
    scores); below that, the quantile that leaves 30 peaks, so that a few hundred
    calibration rows still give a tail fit; fewer than 150 scores are refused, since the
    tail would start below their 80% quantile.
    """
    needed = round(RULE_PEAKS / (1.0 - RULE_MIN_LEVEL))
    if n_scores < needed:
        raise ValueError(
            f"the evt rule needs at least {needed} calibration scores to fit a tail, got "
            f"{n_scores}: hold out more rows (calibration_size) or call calibrate() with more"
        )
    return min(0.98, 1.0 - RULE_PEAKS / n_scores)


# ---------------------------------------------------------------------------- streaming
_STATE_KEYS = (
    "q",
    "level",
    "initial_threshold",
    "n",
    "n_initial",
    "gamma",
    "sigma",
    "fitted_peaks",
)


class SPOT:
    """Streaming POT: flags scores above ``z_q`` and keeps learning the tail from the
    non-alarm peaks (so the threshold follows the stream without absorbing alarms).

    ``fit`` takes an initial batch of normal scores (calibration): ``t`` = its ``level``
    quantile, its excesses over ``t`` are the first peaks, its size is ``n_``, and the GPD
    fitted to them (:func:`fit_gpd`) gives ``threshold_ = z_q`` as :func:`pot_threshold`
    does. Then :meth:`update`, one score at a time, as in Siffer et al. (2017):

    - ``score > threshold_``: an alarm. It does not touch the model (an anomaly must not
      teach the detector that anomalies are normal), and does not count in ``n_``.
    - ``t < score <= threshold_``: a new peak ``score - t``; ``n_ += 1``; the GPD is refitted
      on all peaks and ``threshold_`` recomputed. The paper refits on every peak; here the
      refit waits until the peaks have grown by :data:`REFIT_GROWTH` (1%, so every peak up
      to 100 peaks, every 20th at 2,000) while ``threshold_`` still moves with each peak's
      count. This bounds a stream's cost at O(peaks log peaks).
    - otherwise ``n_ += 1`` (used at the next refit). ``t`` stays fixed.

    Two corrections to the paper's refit, without which a stationary stream drifts to an
    alarm rate near ``2 q`` (q = 1e-3, level 0.98) or worse (with q = 1e-2 the threshold
    sinks below ``t`` and every peak becomes an alarm): a stream peak was only learnt from
    because it stayed below the threshold in force when it arrived, so the peaks above the
    threshold are always missing and a plain GPD fit sees a lighter tail every time. Each
    stream peak's likelihood is therefore its GPD density *truncated* at that threshold
    (``peak_limits_``; ``inf`` for the initial peaks), the exact likelihood of what was
    observed, and ``P(score > t)`` counts the ``q`` share of stream scores that were
    alarms, ``(n_t + m q / (1 - q)) / (n_initial + m / (1 - q))`` with ``m`` the non-alarm
    stream scores, instead of ``n_t / n``. Neither uses the alarms' values or number.

    Each refit is a warm-started search for the truncated likelihood's maximum near the
    previous fit (:func:`_refit_gpd`): ~10 O(n_peaks) passes, about 1 ms with 2,000 peaks;
    a 200k-score stream at the default level takes well under a second.

    Attributes after ``fit``: ``initial_threshold_`` (t), ``peaks_`` (excesses over t in
    arrival order), ``peak_limits_`` (the largest excess each peak could have had without
    being an alarm), ``n_`` (non-alarm scores seen, initial batch included),
    ``n_initial_``, ``gamma_`` and ``sigma_`` (GPD shape and scale), ``fitted_peaks_`` (how
    many peaks they were fitted on), ``threshold_`` (z_q).
    """

    def __init__(self, q: float = 1e-3, level: float = 0.98) -> None:
        self.q = q
        self.level = level

    # ------------------------------------------------------------ fitting
    def fit(self, scores: np.ndarray) -> SPOT:
        """Learn t, the first peaks and the tail from an initial batch of normal scores."""
        level = _check_level(self.level)
        q = _check_q(self.q, level)
        values = as_scores(scores, "initial scores")
        t, excesses = _peaks(values, level)
        self.q, self.level = q, level
        self.initial_threshold_ = t
        self.peaks_ = excesses
        self.peak_limits_ = np.full(excesses.size, np.inf)
        self.n_ = self.n_initial_ = int(values.size)
        self.gamma_, self.sigma_ = fit_gpd(excesses)
        self.fitted_peaks_ = excesses.size
        self.threshold_ = self._z_q()
        return self

    def _exceedance_of_t(self) -> float:
        """Estimated ``P(score > t)``, counting the expected ``q`` share of alarms."""
        stream = self.n_ - self.n_initial_
        expected_alarms = stream * self.q / (1.0 - self.q)
        return (self.peaks_.size + expected_alarms) / (self.n_ + expected_alarms)

    def _z_q(self) -> float:
        ratio = self.q / self._exceedance_of_t()
        return _quantile(self.initial_threshold_, self.gamma_, self.sigma_, ratio)

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(
                "This SPOT is not fitted yet: call fit(scores) with an initial batch of "
                "scores before update or run"
            )

    # ------------------------------------------------------------ streaming
    def _step(self, score: float) -> bool:
        if score > self.threshold_:
            return True
        self.n_ += 1
        t = self.initial_threshold_
        if score > t:
            self.peaks_ = np.append(self.peaks_, score - t)
            self.peak_limits_ = np.append(self.peak_limits_, self.threshold_ - t)
            if self.peaks_.size - self.fitted_peaks_ >= REFIT_GROWTH * self.fitted_peaks_:
                self.gamma_, self.sigma_ = _refit_gpd(
                    self.peaks_, self.peak_limits_, self.gamma_, self.sigma_
                )
                self.fitted_peaks_ = self.peaks_.size
            self.threshold_ = self._z_q()
        return False

    def update(self, score: float) -> bool:
        """One stream step: True (alarm) if ``score > threshold_``; else learn from it.

        Alarms leave the model alone. A score above ``t`` becomes a new peak (GPD refit,
        new ``threshold_``); every non-alarm score counts in ``n_``.
        """
        self._check_fitted()
        return self._step(_as_number(score, "score"))

    def run(self, scores: np.ndarray) -> np.ndarray:
        """:meth:`update` over ``scores`` in order; the alarm flags as int64 0/1."""
        self._check_fitted()
        values = as_scores(scores)
        flags = np.zeros(values.size, dtype=np.int64)
        step = self._step
        for i, score in enumerate(values.tolist()):
            if step(score):
                flags[i] = 1
        return flags

    # ------------------------------------------------------------ saving
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able meta and the peak arrays: enough to continue exactly, without pickle."""
        self._check_fitted()
        meta = {
            "q": self.q,
            "level": self.level,
            "initial_threshold": self.initial_threshold_,
            "n": self.n_,
            "n_initial": self.n_initial_,
            "gamma": self.gamma_,
            "sigma": self.sigma_,
            "fitted_peaks": self.fitted_peaks_,
            # kept as it is: it moves with each peak, not with every score, so recomputing
            # it from n would give a slightly different stream after a resume
            "threshold": self.threshold_,
        }
        arrays = {"peaks": self.peaks_.copy(), "peak_limits": self.peak_limits_.copy()}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> SPOT:
        """The SPOT :meth:`state` describes; it continues the stream as the original would."""
        missing = [key for key in _STATE_KEYS if key not in meta]
        missing += [key for key in ("peaks", "peak_limits") if key not in arrays]
        if missing:
            raise ValueError(f"SPOT state lacks {missing}")
        level = _check_level(meta["level"])
        spot = cls(q=_check_q(meta["q"], level), level=level)
        peaks = as_scores(arrays["peaks"], "SPOT peaks").copy()
        limits = np.asarray(arrays["peak_limits"], dtype=np.float64).copy()
        n, n_initial = int(meta["n"]), int(meta["n_initial"])
        fitted = int(meta["fitted_peaks"])
        if not (
            peaks.size >= MIN_PEAKS
            and limits.shape == peaks.shape
            and (peaks > 0.0).all()
            and (limits >= peaks).all()
            and peaks.size <= n
            and n_initial <= n
            and MIN_PEAKS <= fitted <= peaks.size
        ):
            raise ValueError(
                f"SPOT state is inconsistent: needs >= {MIN_PEAKS} positive peaks, one limit "
                f"per peak at or above it, and n >= n_initial and the number of peaks; got "
                f"{peaks.size} peaks, {limits.size} limits, n={n}, n_initial={n_initial}, "
                f"fitted_peaks={fitted}"
            )
        spot.initial_threshold_ = _as_number(meta["initial_threshold"], "initial_threshold")
        spot.peaks_, spot.peak_limits_ = peaks, limits
        spot.n_, spot.n_initial_, spot.fitted_peaks_ = n, n_initial, fitted
        spot.gamma_ = _as_number(meta["gamma"], "gamma")
        spot.sigma_ = _as_number(meta["sigma"], "sigma")
        spot.threshold_ = (
            _as_number(meta["threshold"], "threshold") if "threshold" in meta else spot._z_q()
        )
        return spot

    def __repr__(self) -> str:
        return f"SPOT(q={self.q!r}, level={self.level!r})"
