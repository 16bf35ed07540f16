"""Metrics for anomaly scores: point-wise, range-aware, and NAB's.

- ``auroc``, ``auprc``: one score per row or time step against 0/1 labels.
"""

from deepad.metrics.point import auprc, auroc, check_labels_scores

__all__ = ["auprc", "auroc", "check_labels_scores"]
