"""Point-wise metrics over one score per row or time step: AUROC and AUPRC.

Thin, validated wrappers over scikit-learn, so every metric in ``deepad.metrics`` refuses
the same bad input with the same clear message (different lengths, labels other than
0/1, a single class, non-finite scores) instead of a traceback from deep inside.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from deepad.metrics.checks import labels_and_scores


def check_labels_scores(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(labels as int64 0/1, scores as float64)``, or a ValueError naming the problem."""
    y, s = labels_and_scores(labels, scores)
    if y.min() == y.max():
        raise ValueError("labels need both classes (0 and 1) to rank scores against")
    return y.astype(np.int64), s


def auroc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve: the chance a random anomaly outscores a random normal."""
    y, s = check_labels_scores(labels, scores)
    return float(roc_auc_score(y, s))


def auprc(labels: Any, scores: Any) -> float:
    """Area under the precision-recall curve (average precision); chance level is the
    share of anomalies, so compare it with ``labels.mean()``."""
    y, s = check_labels_scores(labels, scores)
    return float(average_precision_score(y, s))
