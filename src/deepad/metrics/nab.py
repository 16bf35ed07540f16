"""NAB score: the Numenta Anomaly Benchmark's window-based, early-detection reward.

Lavin & Ahmad (2015), "Evaluating Real-time Anomaly Detection Algorithms - the Numenta
Anomaly Benchmark", and the scorer in the NAB repository (``nab/sweeper.py``,
``nab/scorer.py``, ``nab/labeler.py``, ``nab/runner.py``, ``config/profiles.json``).
Written from those published rules; no NAB code is reused.

Why a separate metric: point-wise AUROC/AUPRC ignore *when* an anomaly is flagged.
NAB rewards flagging each labelled anomaly once, as early as possible inside a window
around it, and charges a small cost per stray alarm and a full cost per missed window.

The rules, in index units (``0 .. n-1``; windows are inclusive ``(start, end)`` pairs):

* **Window**, width ``W = end - start + 1``. Only the *first* detection in a window
  counts. At index ``i`` its relative position is ``y = -(end - i + 1) / W``, so
  ``y = -1`` at ``start`` and ``y = -1/W`` at ``end``; it earns
  ``tpWeight * sigma(y) / sigma(-1)``: exactly ``tpWeight`` at the window start, near 0
  at its end. Later detections in the same window add nothing.
* **Missed window**: ``-fnWeight``.
* **False positive** at ``i`` (outside every window): with no window ending before
  ``i`` it costs ``-fpWeight``; otherwise, with ``end``/``W`` of the closest window
  ending before ``i``, ``y = (i - end) / (W - 1)`` and it earns ``fpWeight * sigma(y)``
  (negative, between ``-fpWeight`` and 0), so an alarm just after a window costs little.
* ``sigma(y) = 2 / (1 + exp(5 y)) - 1`` (= ``2 * logistic(-5 y) - 1``), and
  ``sigma(y) = -1`` for ``y > 3``.
* True negatives score 0 (``tnWeight`` is in the profiles but NAB never uses it).
* **Probationary period**: the first ``min(floor(p * n), p * 5000)`` steps
  (``p = 0.15``) are not scored; detections there are ignored, and a window lying wholly
  inside it is dropped (neither reward nor cost), as in NAB's sweeper.
* **Normalisation** over a corpus: ``100 * (raw - null) / (perfect - null)``, with
  ``null`` the raw score of a detector that never fires and ``perfect`` that of one
  firing at the earliest scored step of every window (= ``tpWeight`` per window when no
  window straddles the probationary boundary, which NAB's labels never do).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np

from deepad.metrics.checks import as_binary, runs

__all__ = [
    "NAB_PROFILES",
    "NABResult",
    "detections_from_scores",
    "nab_probation_length",
    "nab_score",
    "nab_scores",
    "nab_step_values",
    "nab_windows",
    "scaled_sigmoid",
]

#: NAB's application profiles (cost matrices), copied value for value from
#: ``config/profiles.json`` of github.com/numenta/NAB, where they are named
#: ``standard``, ``reward_low_FP_rate`` and ``reward_low_FN_rate``. Both spellings are
#: accepted wherever a profile name is.
NAB_PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0, "tnWeight": 1.0},
    "reward_low_fp": {"tpWeight": 1.0, "fpWeight": 0.22, "fnWeight": 1.0, "tnWeight": 1.0},
    "reward_low_fn": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 2.0, "tnWeight": 1.0},
}

_PROFILE_ALIASES = {
    "reward_low_FP_rate": "reward_low_fp",
    "reward_low_FN_rate": "reward_low_fn",
}

#: sigma(-1) = 2 / (1 + exp(-5)) - 1 ~ 0.98661: the unnormalised reward at a window start.
_MAX_TP = 2.0 / (1.0 + math.exp(-5.0)) - 1.0

Window = tuple[int, int]


class NABResult(NamedTuple):
    """Corpus NAB result: ``score`` is normalised (null detector 0, perfect 100)."""

    score: float
    raw: float
    null: float
    perfect: float


def scaled_sigmoid(y: float) -> float:
    """NAB's weighting ``2 / (1 + exp(5 y)) - 1`` of a relative position ``y``; -1 for y > 3.

    Positive for ``y < 0`` (inside a window), 0 at ``y = 0``, tends to -1 past it.
    """
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def nab_probation_length(n: int, probation_percent: float = 0.15) -> int:
    """Number of leading steps NAB leaves unscored: ``min(floor(p * n), p * 5000)``.

    NAB scores step ``i`` only when ``i >= `` that bound, so a fractional cap is rounded up.
    ``probation_percent=0`` disables the period.
    """
    if not 0.0 <= probation_percent < 1.0:
        raise ValueError(f"probation_percent must be in [0, 1), got {probation_percent}")
    bound = min(math.floor(probation_percent * n), probation_percent * 5000)
    return math.ceil(bound)


def detections_from_scores(scores: Any, threshold: float) -> np.ndarray:
    """Boolean detections ``scores >= threshold`` (NAB's rule for turning scores into alarms)."""
    s = np.asarray(scores)
    if s.ndim != 1 or s.dtype.kind not in "biuf":
        raise ValueError(f"scores must be a 1-D numeric array, got shape {s.shape}, {s.dtype}")
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        raise ValueError(f"scores hold {int((~np.isfinite(s)).sum())} NaN or infinite value(s)")
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    return s >= threshold


def _check_windows(windows: Any, n: int) -> list[Window]:
    """Validated, sorted, non-overlapping inclusive index windows."""
    arr = np.asarray(windows)
    if arr.size == 0:
        return []
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"windows must be (start, end) pairs, got shape {arr.shape}")
    if arr.dtype.kind not in "iu" and not (
        arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all()
    ):
        raise ValueError("window bounds must be integer indices")
    out = sorted((int(a), int(b)) for a, b in arr)
    for a, b in out:
        if not 0 <= a <= b <= n - 1:
            raise ValueError(f"window ({a}, {b}) is out of range for a series of length {n}")
    for (_, prev_end), (start, _) in pairwise(out):
        if start <= prev_end:
            raise ValueError(f"windows overlap: one ends at {prev_end}, the next starts at {start}")
    return out


def nab_windows(
    labels: Any,
    window_fraction: float = 0.1,
    *,
    labels_are_windows: bool = False,
    n: int | None = None,
) -> list[Window]:
    """NAB anomaly windows, as inclusive ``(start, end)`` index pairs, in time order.

    ``labels`` is either a 0/1 array per time step or ready-made ``(start, end)`` pairs
    (validated against ``n``, which is then required, and returned sorted).

    From a 0/1 array (NAB's ``labeler.py`` rule): with ``k`` labelled anomalies the
    window length is ``L = int(window_fraction * n / k)``; each anomaly at index ``a``
    gets ``[a - L // 2, a + L // 2]`` clipped to the series, and overlapping windows are
    merged. **Label ranges**: each run of consecutive 1s counts as *one* anomaly (one
    towards ``k``), centred at the run's midpoint ``(first + last) // 2``; its window is
    that NAB window widened, if needed, to cover the whole run, so every labelled step
    lies in a window. A single-step run is thus exactly NAB's point label.

    ``labels_are_windows=True`` reads each run of 1s as a finished window instead (the
    form of NAB's own per-row ``label`` column, which marks whole windows).
    """
    arr = np.asarray(labels)
    if arr.ndim == 2 or (arr.size == 0 and n is not None):
        if n is None:
            raise ValueError("n (series length) is needed to validate ready-made windows")
        return _check_windows(arr, n)
    mask = as_binary(arr, "labels", allow_empty=True)
    length = len(mask)
    if n is not None and n != length:
        raise ValueError(f"labels ({length}) and n ({n}) differ in length")
    if not 0.0 < window_fraction <= 1.0:
        raise ValueError(f"window_fraction must be in (0, 1], got {window_fraction}")
    labelled = runs(mask)
    if labels_are_windows or not labelled:
        return labelled
    half = int(window_fraction * length / len(labelled)) // 2
    raw: list[Window] = []
    for first, last in labelled:
        centre = (first + last) // 2
        raw.append((max(min(first, centre - half), 0), min(max(last, centre + half), length - 1)))
    merged: list[Window] = [raw[0]]
    for start, end in raw[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _resolve_profile(profile: str | Mapping[str, float]) -> tuple[float, float, float]:
    """``(tpWeight, fpWeight, fnWeight)`` of a profile name or a cost-matrix mapping."""
    if isinstance(profile, str):
        key = _PROFILE_ALIASES.get(profile, profile)
        if key not in NAB_PROFILES:
            names = sorted([*NAB_PROFILES, *_PROFILE_ALIASES])
            raise ValueError(f"unknown NAB profile {profile!r}; choose one of {names}")
        cost = NAB_PROFILES[key]
    else:
        cost = profile
    try:
        weights = tuple(float(cost[k]) for k in ("tpWeight", "fpWeight", "fnWeight"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"cost matrix needs numeric tpWeight, fpWeight, fnWeight: {exc}") from exc
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        raise ValueError(f"cost-matrix weights must be finite and >= 0, got {weights}")
    return weights  # type: ignore[return-value]


def _prepare(
    detections: Any, windows: Any, n: int | None, window_fraction: float
) -> tuple[np.ndarray, list[Window]]:
    det = as_binary(detections, "detections", allow_empty=True)
    if n is None:
        n = len(det)
    if n < 1:
        raise ValueError(f"series length n must be >= 1, got {n}")
    if len(det) != n:
        raise ValueError(f"detections ({len(det)}) and n ({n}) differ in length")
    win_arr = np.asarray(windows)
    if win_arr.ndim == 2 or win_arr.size == 0:
        wins = _check_windows(win_arr, n)
    else:
        if len(win_arr) != n:
            raise ValueError(f"labels ({len(win_arr)}) and detections ({n}) differ in length")
        wins = nab_windows(win_arr, window_fraction)
    return det, wins


def _sigma(y: np.ndarray) -> np.ndarray:
    """``scaled_sigmoid`` over an array (same formula; -1 past y = 3)."""
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore"):
        out = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y > 3.0, -1.0, out)


def nab_step_values(
    windows: Sequence[Window], n: int, probation: int, weights: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """NAB's value of a detection at each scored step ``probation .. n-1``.

    Returns ``(window_id, value)``: the index in ``windows`` of the window holding the step
    (-1 outside every window) and what a detection there is worth: inside a window the TP
    reward if it is the window's first detection, outside the (negative) false-positive
    cost. The one place the rules of the module docstring are computed; the threshold
    sweep of ``deepad bench nab`` uses them for every threshold at once.
    """
    tp_w, fp_w, _ = weights
    idx = np.arange(probation, n)
    window_id = np.full(len(idx), -1, dtype=np.int64)
    value = np.empty(len(idx))
    for k, (start, end) in enumerate(windows):
        if end < probation:
            continue
        pos = np.arange(max(start, probation), end + 1)
        window_id[pos - probation] = k
        value[pos - probation] = tp_w * _sigma(-(end - pos + 1) / (end - start + 1)) / _MAX_TP
    outside = window_id < 0
    ends = np.array([e for _, e in windows], dtype=np.int64)
    widths = np.array([e - s + 1 for s, e in windows], dtype=np.int64)
    out_idx = idx[outside]
    k = np.searchsorted(ends, out_idx) - 1  # last window ending before i
    costs = np.full(len(out_idx), -fp_w)
    after = k >= 0
    if after.any():
        kk = k[after]
        # NAB divides by (W - 1); guard the one-step window, where that is 0.
        y = (out_idx[after] - ends[kk]) / np.maximum(widths[kk] - 1, 1)
        costs[after] = fp_w * _sigma(y)
    value[outside] = costs
    return window_id, value


def _raw_score(
    det: np.ndarray, wins: list[Window], probation: int, weights: tuple[float, float, float]
) -> tuple[float, int, float]:
    """``(raw score, number of scored windows, perfect-detector score)`` for one series."""
    window_id, value = nab_step_values(wins, len(det), probation, weights)
    detected = det[probation:]
    total = float(value[(window_id < 0) & detected].sum())
    perfect = 0.0
    scored = 0
    for start, end in wins:
        if end < probation:
            continue  # wholly inside the probationary period: not scored at all
        scored += 1
        first = max(start, probation) - probation
        perfect += value[first]
        hits = np.flatnonzero(detected[first : end - probation + 1])
        total += value[first + hits[0]] if hits.size else -weights[2]
    return total, scored, perfect


def nab_score(
    detections: Any,
    windows: Any,
    n: int | None = None,
    profile: str | Mapping[str, float] = "standard",
    *,
    probation_percent: float = 0.15,
    window_fraction: float = 0.1,
) -> float:
    """Raw (unnormalised) NAB score of one series; see the module docstring for the rules.

    ``detections``: 0/1 or boolean alarm per step (see :func:`detections_from_scores`).
    ``windows``: ``(start, end)`` index pairs, or a 0/1 label array of length ``n`` turned
    into windows by :func:`nab_windows` with ``window_fraction``. ``n`` defaults to
    ``len(detections)`` and must match it. ``profile`` is a name in ``NAB_PROFILES`` (or
    NAB's own spelling) or a mapping with ``tpWeight``, ``fpWeight``, ``fnWeight``.
    ``probation_percent`` (default NAB's 0.15; 0 disables) sets the unscored prefix.
    """
    weights = _resolve_profile(profile)
    det, wins = _prepare(detections, windows, n, window_fraction)
    probation = nab_probation_length(len(det), probation_percent)
    return _raw_score(det, wins, probation, weights)[0]


def nab_scores(
    series: Sequence[Sequence[Any]],
    profile: str | Mapping[str, float] = "standard",
    *,
    probation_percent: float = 0.15,
    window_fraction: float = 0.1,
) -> NABResult:
    """Normalised NAB score of a corpus: ``100 * (raw - null) / (perfect - null)``.

    ``series`` holds ``(detections, windows)`` or ``(detections, windows, n)`` per series,
    as for :func:`nab_score`. Raw, null and perfect scores are summed over the series
    before normalising, as NAB does over its corpus. The null detector never fires
    (``-fnWeight`` per scored window); the perfect one fires at the earliest scored step
    of every window. Raises ValueError when no window is scored (0/0).
    """
    weights = _resolve_profile(profile)
    if len(series) == 0:
        raise ValueError("series is empty; nothing to score")
    raw = null = perfect = 0.0
    for idx, item in enumerate(series):
        if len(item) not in (2, 3):
            raise ValueError(
                f"series[{idx}] must be (detections, windows) or (detections, windows, n)"
            )
        det, wins = _prepare(item[0], item[1], item[2] if len(item) == 3 else None, window_fraction)
        probation = nab_probation_length(len(det), probation_percent)
        score, scored, best = _raw_score(det, wins, probation, weights)
        raw += score
        null -= weights[2] * scored
        perfect += best
    if perfect - null <= 0.0:
        raise ValueError(
            "no anomaly window is scored (none given, or all inside the probationary "
            "period, or tpWeight and fnWeight are both 0): normalisation is undefined"
        )
    return NABResult(100.0 * (raw - null) / (perfect - null), raw, null, perfect)
