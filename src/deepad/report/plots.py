"""The report's plots, drawn with matplotlib (Agg) and returned as inline PNG data URIs.

What is drawn is sampled (histogram bins, at most ``MAX_CURVE_POINTS`` points per curve),
what is counted is not, so a report for millions of rows stays a few hundred kilobytes.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

#: points kept per ROC or PR curve (evenly spaced along the curve)
MAX_CURVE_POINTS = 1000
_NORMAL, _ANOMALY, _THRESHOLD = "#4c72b0", "#dd8452", "#c44e52"


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_CURVE_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, MAX_CURVE_POINTS).round().astype(int))
    return x[keep], y[keep]


def score_distribution(
    scores: np.ndarray, threshold: float, rule: str, labels: np.ndarray | None = None
) -> str:
    """Histogram of the scores (by label when known) with the threshold and its rule."""
    figure, axis = plt.subplots(figsize=(8, 3.6))
    finite = scores[np.isfinite(scores)]
    low, high = np.percentile(finite, [0, 99.9]) if finite.size else (0.0, 1.0)
    if np.isfinite(threshold):
        low, high = min(low, threshold), max(high, threshold)
    bins = np.linspace(low, high if high > low else low + 1.0, 60)
    clipped = np.clip(finite, bins[0], bins[-1])
    if labels is None:
        axis.hist(clipped, bins=bins, color=_NORMAL, label="scored rows")
    else:
        for value, name, colour in (
            (0, "labelled normal", _NORMAL),
            (1, "labelled anomaly", _ANOMALY),
        ):
            axis.hist(clipped[labels[np.isfinite(scores)] == value], bins=bins, color=colour,
                      alpha=0.7, label=name)  # fmt: skip
    if np.isfinite(threshold):
        axis.axvline(
            threshold, color=_THRESHOLD, linestyle="--", label=f"threshold {threshold:.4g}"
        )
    axis.set_yscale("log")
    axis.set_xlabel("anomaly score (higher = more anomalous; top 0.1% clipped into the last bin)")
    axis.set_ylabel("rows")
    axis.set_title(rule, fontsize=9)
    axis.legend(fontsize=8)
    return _png(figure)


def roc_and_pr(labels: np.ndarray, scores: np.ndarray, auroc: float, auprc: float) -> str:
    """ROC and precision-recall curves side by side, with the chance levels."""
    figure, (roc_axis, pr_axis) = plt.subplots(1, 2, figsize=(8, 3.6))
    fpr, tpr, _ = roc_curve(labels, scores)
    roc_axis.plot(*_thin(fpr, tpr), color=_NORMAL)
    roc_axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    roc_axis.set(xlabel="false-positive rate", ylabel="true-positive rate",
                 title=f"ROC, AUROC {auroc:.3f}")  # fmt: skip
    precision, recall, _ = precision_recall_curve(labels, scores)
    pr_axis.plot(*_thin(recall, precision), color=_ANOMALY)
    pr_axis.axhline(labels.mean(), color="grey", linestyle=":", label="chance")
    pr_axis.set(xlabel="recall", ylabel="precision", title=f"precision-recall, AUPRC {auprc:.3f}",
                ylim=(0, 1.02))  # fmt: skip
    for axis in (roc_axis, pr_axis):
        axis.legend(fontsize=8)
    return _png(figure)


def drift_bars(drift: pd.DataFrame) -> str:
    """Per column, the drift statistic (outside share or category distance), flagged in red."""
    shown = drift.head(30)
    figure, axis = plt.subplots(figsize=(8, max(2.0, 0.28 * len(shown) + 1.0)))
    colours = [_THRESHOLD if flag else _NORMAL for flag in shown["drifted"]]
    axis.barh(
        shown["column"].astype(str)[::-1], shown["value"].fillna(0)[::-1], color=colours[::-1]
    )
    axis.axvline(0.10, color="grey", linestyle=":", label="10%: expected share outside 5-95%")
    axis.set_xlabel("numeric: share of values outside the training 5-95% range; "
                    "categorical: category share distance")  # fmt: skip
    axis.legend(fontsize=8)
    return _png(figure)
