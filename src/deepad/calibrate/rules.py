"""Threshold rules: turn scores into a 0/1 decision, each with what it promises.

- ``fpr`` (alpha): flag p-value <= alpha; false-positive rate on new normal rows <= alpha
  (finite sample, when the calibration rows are clean).
- ``fdr`` (q): Benjamini-Hochberg over a batch; expected share of false alarms among the
  flagged rows <= q.
- ``contamination`` (c): score above the ``1 - c`` quantile of the training scores; flags
  about c of the *training* rows (PyOD's rule), promises nothing about new data.
- ``evt`` (q): score above the peaks-over-threshold estimate of the ``1 - q`` quantile; an
  extrapolated tail estimate for rates finer than the calibration rows resolve.
- ``best_f1``: the F1-maximising threshold on labelled rows; optimistic on those rows.
- ``score`` (t): a threshold you chose; no promise.
"""

from __future__ import annotations

import math

import numpy as np

#: rule name -> the name of its level in messages
RULES = {
    "fpr": "alpha",
    "fdr": "q",
    "contamination": "contamination",
    "evt": "q",
    "best_f1": "",
    "score": "value",
}


def check_rate(value: object, name: str, upper: float = 1.0) -> float:
    """``value`` as a float in (0, upper), or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number in (0, {upper:g}), got {value!r}")
    rate = float(value)
    if not 0.0 < rate < upper:
        raise ValueError(f"{name} must be in (0, {upper:g}), got {value!r}")
    return rate


def contamination_threshold(training_scores: np.ndarray, contamination: float) -> float:
    """The ``1 - contamination`` quantile of the training scores (PyOD's threshold)."""
    return float(np.quantile(np.asarray(training_scores, dtype=np.float64), 1.0 - contamination))


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold ``t`` (flag ``score > t``) with the highest F1 on labelled rows."""
    from sklearn.metrics import precision_recall_curve

    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or len(y) != len(s):
        raise ValueError(f"labels must be 1-D with one entry per row ({len(s)}), got {y.shape}")
    if not set(np.unique(y).tolist()) <= {0, 1} or y.min() == y.max():
        raise ValueError("best_f1 needs labels of 0 (normal) and 1 (anomaly), with both present")
    precision, recall, thresholds = precision_recall_curve(y, s)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
    best = int(np.argmax(f1[:-1]))
    # precision_recall_curve flags score >= thresholds[best]; ours flags score > t
    return float(np.nextafter(thresholds[best], -math.inf))
