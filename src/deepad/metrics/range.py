"""Range-aware evaluation metrics for time-series anomaly detection.

Point-wise precision/recall ignore that anomalies in time series are *ranges*:
a detector that fires early, late, or on part of an event is scored as if each
time step were an independent sample.  This module provides, in plain NumPy:

* :func:`label_ranges` -- runs of consecutive 1s as ``(start, end)`` with an
  **inclusive** end (the convention of Tatbul et al. and of the VUS code).
* :func:`range_precision_recall` / :func:`range_f1` -- range-based precision
  and recall of Tatbul et al., "Precision and Recall for Time Series",
  NeurIPS 2018.
* :func:`vus_pr` / :func:`vus_roc` -- Volume Under the Surface of Paparrizos
  et al., VLDB 2022, following the current reference implementation in
  TSB-AD (``basic_metricor.RangeAUC_volume_opt``).
* :func:`best_f1` -- honest point-wise F1 maximised over thresholds.
* :func:`point_adjusted_f1` -- the *inflated* point-adjust protocol, to be
  reported only beside :func:`best_f1` (Kim et al., AAAI 2022).

All thresholded predictions use ``score >= threshold``.  Invalid input
(length mismatch, non-binary labels, NaN/inf scores, no positive label)
raises :class:`ValueError`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deepad.metrics.checks import as_binary, labels_and_scores, run_bounds, runs, same_length

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_N_THRESHOLDS",
    "best_f1",
    "label_ranges",
    "point_adjusted_f1",
    "range_f1",
    "range_precision_recall",
    "vus_pr",
    "vus_roc",
]

Bias = Literal["flat", "front", "back", "middle"]
Cardinality = Literal["one", "reciprocal"]

#: TSB-AD's ``get_metrics`` uses ``slidingWindow=100`` and evaluates VUS with
#: buffers up to ``2 * slidingWindow``; we use the same fixed default.
DEFAULT_MAX_BUFFER = 200
#: VUS/TSB-AD sample 250 thresholds (order statistics of the sorted scores).
DEFAULT_N_THRESHOLDS = 250

_BIASES = ("flat", "front", "back", "middle")
_CARDINALITIES = ("one", "reciprocal")


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------
def _require_positive(y: NDArray[np.bool_]) -> None:
    if not y.any():
        raise ValueError("labels contain no positive (anomalous) point")


def _range_max(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Maximum of ``values`` over each inclusive interval (disjoint, sorted)."""
    padded = np.append(values, -np.inf)
    idx = np.column_stack((starts, ends + 1)).ravel()
    return np.maximum.reduceat(padded, idx)[::2]


# --------------------------------------------------------------------------
# ranges
# --------------------------------------------------------------------------
def label_ranges(labels: ArrayLike) -> list[tuple[int, int]]:
    """Return the runs of consecutive 1s in ``labels`` as ``(start, end)``.

    ``end`` is **inclusive** (``labels[start:end + 1]`` is the run), matching
    Tatbul et al. and the VUS reference code.  Example: ``0011100`` gives
    ``[(2, 4)]``.
    """
    return runs(as_binary(labels, "labels"))


# --------------------------------------------------------------------------
# Tatbul et al. (NeurIPS 2018) range-based precision / recall
# --------------------------------------------------------------------------
def _positional_weights(pos: np.ndarray, length: np.ndarray, bias: str) -> np.ndarray:
    """Positional bias delta(i, L) for 1-based position ``i`` in a range of length L."""
    if bias == "flat":
        return np.ones(pos.shape, dtype=np.float64)
    if bias == "front":
        return (length - pos + 1).astype(np.float64)
    if bias == "back":
        return pos.astype(np.float64)
    # middle: i for i <= L/2, else L - i + 1
    return np.where(pos <= length / 2.0, pos, length - pos + 1).astype(np.float64)


def _overlap_terms(
    starts: np.ndarray,
    ends: np.ndarray,
    other: NDArray[np.bool_],
    other_starts: np.ndarray,
    other_ends: np.ndarray,
    bias: str,
    cardinality: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per range: existence (bool) and cardinality_factor * omega(overlap, bias)."""
    n_ranges = starts.shape[0]
    lengths = ends - starts + 1
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos = np.arange(int(lengths.sum())) - offsets + 1  # 1-based position in range
    seg = np.repeat(np.arange(n_ranges), lengths)
    hit = other[np.repeat(starts, lengths) + pos - 1]
    delta = _positional_weights(pos, np.repeat(lengths, lengths), bias)
    omega = np.bincount(seg, weights=delta * hit, minlength=n_ranges) / np.bincount(
        seg, weights=delta, minlength=n_ranges
    )
    existence = np.bincount(seg, weights=hit, minlength=n_ranges) > 0
    if cardinality == "one":
        gamma = np.ones(n_ranges)
    else:
        # number of ranges of the other set overlapping each range
        count = np.searchsorted(other_starts, ends, side="right") - np.searchsorted(
            other_ends, starts, side="left"
        )
        gamma = 1.0 / np.maximum(count, 1)
    return existence, gamma * omega


def range_precision_recall(
    labels: ArrayLike,
    predictions: ArrayLike,
    alpha: float = 0.0,
    bias: Bias = "flat",
    cardinality: Cardinality = "one",
) -> tuple[float, float]:
    """Range-based (precision, recall) of Tatbul et al., NeurIPS 2018.

    Recall averages, over real ranges R_i,
    ``alpha * Existence(R_i) + (1 - alpha) * gamma(R_i) * omega(R_i)`` where
    Existence is 1 if any point of R_i is predicted, omega is the bias-weighted
    fraction of R_i covered by predictions and gamma is the cardinality factor
    (``"one"``: always 1; ``"reciprocal"``: 1/x when R_i overlaps x > 1
    predicted ranges).  Precision averages the same overlap term over
    predicted ranges with alpha = 0 (the paper's recommendation), using the
    same ``bias`` and ``cardinality``.

    ``bias``: ``"flat"`` (1), ``"front"`` (L - i + 1), ``"back"`` (i),
    ``"middle"`` (i for i <= L/2 else L - i + 1), i = 1..L within the range.
    Defaults (alpha=0, flat, one) reduce to mean per-range overlap fractions.
    Precision is 0 when nothing is predicted.
    """
    y = as_binary(labels, "labels")
    p = as_binary(predictions, "predictions")
    same_length(y, p, "labels", "predictions")
    _require_positive(y)
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if bias not in _BIASES:
        raise ValueError(f"bias must be one of {_BIASES}, got {bias!r}")
    if cardinality not in _CARDINALITIES:
        raise ValueError(f"cardinality must be one of {_CARDINALITIES}, got {cardinality!r}")

    r_s, r_e = run_bounds(y)
    p_s, p_e = run_bounds(p)
    exist, overlap = _overlap_terms(r_s, r_e, p, p_s, p_e, bias, cardinality)
    recall = float(np.mean(alpha * exist + (1.0 - alpha) * overlap))
    if p_s.size == 0:
        return 0.0, recall
    _, p_overlap = _overlap_terms(p_s, p_e, y, r_s, r_e, bias, cardinality)
    return float(np.mean(p_overlap)), recall


def range_f1(
    labels: ArrayLike,
    predictions: ArrayLike,
    alpha: float = 0.0,
    bias: Bias = "flat",
    cardinality: Cardinality = "one",
) -> float:
    """Harmonic mean of :func:`range_precision_recall` (0 when both are 0)."""
    prec, rec = range_precision_recall(labels, predictions, alpha, bias, cardinality)
    return 0.0 if prec + rec == 0 else 2.0 * prec * rec / (prec + rec)


# --------------------------------------------------------------------------
# VUS (Paparrizos et al., VLDB 2022; TSB-AD reference implementation)
# --------------------------------------------------------------------------
def _vus_curves(
    labels: ArrayLike,
    scores: ArrayLike,
    max_buffer: int | None,
    n_thresholds: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Range TPR, FPR and precision per (buffer l = 0..L, threshold)."""
    y, s = labels_and_scores(labels, scores)
    _require_positive(y)
    L = DEFAULT_MAX_BUFFER if max_buffer is None else max_buffer
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 0:
        raise ValueError(f"max_buffer must be a non-negative int, got {max_buffer!r}")
    n = s.shape[0]
    P = float(y.sum())

    order = np.argsort(-s, kind="stable")
    sd = s[order]  # descending
    if n_thresholds is None:
        thr = sd[np.flatnonzero(np.r_[sd[1:] != sd[:-1], True])]  # distinct values
    else:
        if isinstance(n_thresholds, bool) or int(n_thresholds) < 1:
            raise ValueError(f"n_thresholds must be a positive int or None, got {n_thresholds!r}")
        thr = sd[np.linspace(0, n - 1, int(n_thresholds)).astype(int)]
    n_pred = np.searchsorted(-sd, -thr, side="right")  # #{score >= thr}
    last = n_pred - 1
    tp_in = np.cumsum(y[order])[last].astype(np.float64)

    starts, ends = run_bounds(y)
    n_buf = int(L) + 1
    tpr = np.empty((n_buf, thr.size))
    fpr = np.empty((n_buf, thr.size))
    prec = np.empty((n_buf, thr.size))
    for ell in range(n_buf):
        h = ell // 2  # buffer points on each side (VUS: window // 2)
        if h == 0:
            buf_tp = np.zeros(thr.size)
        else:
            d = np.arange(1, h + 1)
            w = np.sqrt(1.0 - d / ell)  # sqrt decay of the soft label
            idx = np.concatenate(((starts[:, None] - d).ravel(), (ends[:, None] + d).ravel()))
            ww = np.tile(w, 2 * starts.size)
            ok = (idx >= 0) & (idx < n)
            buf = np.minimum(np.bincount(idx[ok], weights=ww[ok], minlength=n), 1.0)
            buf[y] = 0.0  # range points already count fully in tp_in
            buf_tp = np.cumsum(buf[order])[last]
        # existence: extended ranges [s - h, e + h], merged as in VUS new_sequence
        sep = np.flatnonzero(ends[:-1] + h < starts[1:] - h)
        seg_s = np.maximum(starts[np.r_[0, sep + 1]] - h, 0)
        seg_e = np.minimum(ends[np.r_[sep, starts.size - 1]] + h, n - 1)
        seg_max = np.sort(_range_max(s, seg_s, seg_e))
        existence = (seg_max.size - np.searchsorted(seg_max, thr, side="left")) / seg_max.size

        tp = tp_in + buf_tp
        p_new = P + buf_tp / 2.0  # TSB-AD: (P + P + predicted buffer mass) / 2
        tpr[ell] = np.minimum(tp / p_new, 1.0) * existence
        prec[ell] = tp / n_pred
        neg = n - p_new
        fpr[ell] = np.divide(n_pred - tp, neg, out=np.zeros_like(tp), where=neg > 0)
    return tpr, fpr, prec, n_buf


def vus_pr(
    labels: ArrayLike,
    scores: ArrayLike,
    max_buffer: int | None = None,
    n_thresholds: int | None = DEFAULT_N_THRESHOLDS,
) -> float:
    """Volume Under the range-PR Surface (VUS-PR), Paparrizos et al. VLDB 2022.

    For each buffer length l = 0..L (``L = max_buffer``, default
    :data:`DEFAULT_MAX_BUFFER` = 200, i.e. TSB-AD's ``2 * slidingWindow`` with
    its default window 100; pass ``2 * period`` for a period-aware value) the
    labels get a soft buffer of ``l // 2`` points on each side of every range
    with weight ``sqrt(1 - d / l)`` at distance d (overlaps summed, clipped at
    1).  Range recall is ``min(TP / P_new, 1) * existence`` with
    ``TP`` = predicted range points + predicted buffer mass B,
    ``P_new = P + B / 2`` and existence = share of (buffer-extended, merged)
    ranges touched; precision is ``TP / #predicted``.  The range-AUC-PR is
    the step sum ``sum_k (R_k - R_{k-1}) * P_k`` from R_0 = 0 (as in TSB-AD),
    and VUS-PR is its mean over l.

    Thresholds: ``n_thresholds`` order statistics of the scores (250 as in
    VUS), or every distinct score when ``None`` (exact).  With
    ``max_buffer=0``, ``n_thresholds=None`` and a single anomaly range this
    equals ``sklearn.metrics.average_precision_score``; with several ranges
    recall is additionally scaled by the existence ratio.  A constant score
    gives the positive rate at l = 0 and slightly more for l > 0.
    Cost: O(n log n + L * (n + R * L)).
    """
    tpr, _, prec, _ = _vus_curves(labels, scores, max_buffer, n_thresholds)
    widths = np.diff(tpr, axis=1, prepend=0.0)
    return float(np.mean(np.sum(widths * prec, axis=1)))


def vus_roc(
    labels: ArrayLike,
    scores: ArrayLike,
    max_buffer: int | None = None,
    n_thresholds: int | None = DEFAULT_N_THRESHOLDS,
) -> float:
    """Volume Under the range-ROC Surface (VUS-ROC), see :func:`vus_pr`.

    Range FPR is ``(#predicted - TP) / (n - P_new)``; the curve runs from
    (0, 0) through every threshold to (1, 1) and is integrated with the
    trapezoidal rule, then averaged over buffers l = 0..L.  With
    ``max_buffer=0``, all thresholds and a single range it equals
    ``roc_auc_score``.  Needs at least one normal point.
    """
    y = as_binary(labels, "labels")
    if y.all():
        raise ValueError("labels contain no negative (normal) point; ROC is undefined")
    tpr, fpr, _, n_buf = _vus_curves(labels, scores, max_buffer, n_thresholds)
    zeros, ones = np.zeros((n_buf, 1)), np.ones((n_buf, 1))
    x = np.hstack((zeros, fpr, ones))
    t = np.hstack((zeros, tpr, ones))
    area = np.sum(np.diff(x, axis=1) * (t[:, 1:] + t[:, :-1]) / 2.0, axis=1)
    return float(np.mean(area))


# --------------------------------------------------------------------------
# point-wise F1 (honest) and point-adjusted F1 (inflated)
# --------------------------------------------------------------------------
def _sorted_thresholds(
    labels: ArrayLike, scores: ArrayLike
) -> tuple[NDArray[np.bool_], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    y, s = labels_and_scores(labels, scores)
    _require_positive(y)
    order = np.argsort(-s, kind="stable")
    sd = s[order]
    last = np.flatnonzero(np.r_[sd[1:] != sd[:-1], True])  # end of each tie group
    return y, s, order, sd[last], last


def best_f1(labels: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """Best point-wise F1 over all thresholds, WITHOUT point adjustment.

    Returns ``(f1, threshold)`` where predictions are ``scores >= threshold``;
    ties in F1 go to the highest threshold.  Scores are sorted once and F1 is
    evaluated at every distinct score: ``F1 = 2 TP / (#predicted + P)``.
    """
    y, _, order, thr, last = _sorted_thresholds(labels, scores)
    tp = np.cumsum(y[order])[last]
    f1 = 2.0 * tp / (last + 1 + y.sum())
    k = int(np.argmax(f1))
    return float(f1[k]), float(thr[k])


def point_adjusted_f1(labels: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """Best F1 under the *point-adjust* (PA) protocol -- an inflated metric.

    PA marks a whole true anomaly range as detected as soon as any one of its
    points is predicted; false positives are unchanged.  Kim et al. (AAAI 2022,
    "Towards a Rigorous Evaluation of Time-series Anomaly Detection") show it
    lets even random scores look strong, so report it only beside
    :func:`best_f1`.  Returns ``(f1, threshold)`` (``scores >= threshold``);
    always ``>=`` :func:`best_f1`.
    """
    y, s, order, thr, last = _sorted_thresholds(labels, scores)
    starts, ends = run_bounds(y)
    lengths = (ends - starts + 1).astype(np.float64)
    rmax = _range_max(s, starts, ends)
    ro = np.argsort(-rmax, kind="stable")
    cum_len = np.r_[0.0, np.cumsum(lengths[ro])]
    n_hit = np.searchsorted(-rmax[ro], -thr, side="right")  # ranges with max >= thr
    tp_adj = cum_len[n_hit]
    fp = np.cumsum(~y[order])[last]
    f1 = 2.0 * tp_adj / (tp_adj + fp + y.sum())
    k = int(np.argmax(f1))
    return float(f1[k]), float(thr[k])
