"""Decisions, not only rankings: realised false-positive rate, recall and FDR per job.

AUROC says how well a detector ranks; a deployed detector also has to decide. For every
job the runner records, on the test rows:

- ``fpr_01`` / ``recall_01`` and ``fpr_05`` / ``recall_05``: the share of normal test rows
  flagged, and of anomalous ones, when the detector is asked for a 1% (5%) false-positive
  rate. deepad's detectors flag conformal p-value <= alpha (``predict(X, fpr=alpha)``); a
  PyOD peer gets ``contamination = alpha`` and flags what PyOD's own threshold rule flags
  (its ``1 - contamination`` quantile of the training scores, ``_process_decision_scores``),
  which is how a PyOD user asks for "1% false alarms".
- ``fdp_10`` / ``recall_fdr_10``: the share of false alarms among the rows flagged by
  Benjamini-Hochberg at q = 0.1 over the whole test batch, and the recall (deepad only; PyOD
  has no FDR rule).
- ``n_calibration``: how many calibration scores deepad's p-values came from.

An estimator with neither interface gets empty cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepad.core.base import BaseDetector

#: (false-positive rate asked for, column suffix)
ALPHAS: tuple[tuple[float, str], ...] = ((0.01, "01"), (0.05, "05"))
#: the FDR level of the ``fdp_10`` column
FDR_Q = 0.1

#: the columns :func:`threshold_metrics` fills, in runs.csv order
COLUMNS: tuple[str, ...] = (
    "n_calibration",
    *(f"{kind}_{tag}" for _, tag in ALPHAS for kind in ("fpr", "recall")),
    "fdp_10",
    "recall_fdr_10",
)


def _rates(flags: np.ndarray, y_test: np.ndarray) -> tuple[float, float]:
    """(share of normal rows flagged, share of anomalous rows flagged)."""
    flags = np.asarray(flags, dtype=bool)
    normal, anomalous = y_test == 0, y_test == 1
    fpr = float(flags[normal].mean()) if normal.any() else float("nan")
    recall = float(flags[anomalous].mean()) if anomalous.any() else float("nan")
    return fpr, recall


def threshold_metrics(estimator: Any, scores: np.ndarray, y_test: np.ndarray) -> dict[str, Any]:
    """The :data:`COLUMNS` for one fitted estimator and its test ``scores`` (see module doc)."""
    y_test = np.asarray(y_test)
    metrics: dict[str, Any] = {}
    if isinstance(estimator, BaseDetector):
        calibrator = estimator.calibrator_
        metrics["n_calibration"] = calibrator.n_calibration
        if calibrator.n_calibration == 0:
            return metrics
        for alpha, tag in ALPHAS:
            flags = calibrator.decide(scores, fpr=alpha)
            metrics[f"fpr_{tag}"], metrics[f"recall_{tag}"] = _rates(flags, y_test)
        flags = calibrator.decide(scores, fdr=FDR_Q).astype(bool)
        false_alarms = int((flags & (y_test == 0)).sum())
        metrics["fdp_10"] = false_alarms / max(int(flags.sum()), 1)
        metrics["recall_fdr_10"] = _rates(flags, y_test)[1]
    elif hasattr(estimator, "_process_decision_scores") and hasattr(estimator, "decision_scores_"):
        for alpha, tag in ALPHAS:
            estimator.contamination = alpha
            estimator._process_decision_scores()  # PyOD's threshold_ at this contamination
            flags = scores > estimator.threshold_
            metrics[f"fpr_{tag}"], metrics[f"recall_{tag}"] = _rates(flags, y_test)
    return metrics
