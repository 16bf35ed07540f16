"""Metrics for anomaly scores: point-wise, range-aware, and NAB's.

- ``auroc``, ``auprc``: one score per row or time step against 0/1 labels.
- ``best_f1``: the best point-wise F1 over thresholds, no point adjustment;
  ``point_adjusted_f1`` only beside it (a detected point credits its whole range, which
  inflates F1: Kim et al., AAAI 2022).
- ``range_precision_recall``, ``range_f1``: Tatbul et al. (NeurIPS 2018), with existence
  reward, positional bias and cardinality.
- ``vus_pr``, ``vus_roc``: volume under the range-PR / ROC surface over buffer lengths
  (Paparrizos et al., VLDB 2022; the TSB-AD definition).
- ``grouping_accuracy``: log-parsing accuracy against template ground truth (loghub).
- ``nab_score``, ``nab_scores``, ``nab_windows``, ``NAB_PROFILES``: the Numenta Anomaly
  Benchmark score (standard, reward-low-FP, reward-low-FN), from NAB's definition.
"""

from deepad.metrics.nab import NAB_PROFILES, NABResult, nab_score, nab_scores, nab_windows
from deepad.metrics.parsing import grouping_accuracy
from deepad.metrics.point import auprc, auroc
from deepad.metrics.range import (
    best_f1,
    label_ranges,
    point_adjusted_f1,
    range_f1,
    range_precision_recall,
    vus_pr,
    vus_roc,
)

__all__ = [
    "NAB_PROFILES",
    "NABResult",
    "auprc",
    "auroc",
    "best_f1",
    "grouping_accuracy",
    "label_ranges",
    "nab_score",
    "nab_scores",
    "nab_windows",
    "point_adjusted_f1",
    "range_f1",
    "range_precision_recall",
    "vus_pr",
    "vus_roc",
]
