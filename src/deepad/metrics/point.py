"""Point-wise metrics over one score per row or time step: AUROC and AUPRC.

Thin, validated wrappers over scikit-learn, so every metric in ``deepad.metrics`` refuses
the same bad input with the same clear message (different lengths, labels other than
0/1, a single class, non-finite scores) instead of a traceback from deep inside.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def check_labels_scores(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(labels as int64 0/1, scores as float64)``, or a ValueError naming the problem."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64) if np.asarray(scores).dtype.kind in "biuf" else None
    if s is None:
        raise ValueError(f"scores must be numeric, got dtype {np.asarray(scores).dtype}")
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D, got shapes {y.shape} and {s.shape}")
    if len(y) != len(s):
        raise ValueError(f"labels ({len(y)}) and scores ({len(s)}) differ in length")
    if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
        raise ValueError("labels must hold only 0 (normal) and 1 (anomaly)")
    if not np.isfinite(s).all():
        raise ValueError(f"scores hold {int((~np.isfinite(s)).sum())} NaN or infinite value(s)")
    y = y.astype(np.int64)
    if y.min() == y.max():
        raise ValueError("labels need both classes (0 and 1) to rank scores against")
    return y, s


def auroc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve: the chance a random anomaly outscores a random normal."""
    y, s = check_labels_scores(labels, scores)
    return float(roc_auc_score(y, s))


def auprc(labels: Any, scores: Any) -> float:
    """Area under the precision-recall curve (average precision); chance level is the
    share of anomalies, so compare it with ``labels.mean()``."""
    y, s = check_labels_scores(labels, scores)
    return float(average_precision_score(y, s))
