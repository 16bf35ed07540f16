"""The report's plots, drawn with matplotlib (Agg) and returned as inline PNG data URIs.

What is drawn is sampled (histogram bins, at most ``MAX_CURVE_POINTS`` points per curve),
what is counted is not, so a report for millions of rows stays a few hundred kilobytes.
"""

from __future__ import annotations

import base64
import io
import itertools

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
    scores: np.ndarray,
    threshold: float,
    rule: str,
    labels: np.ndarray | None = None,
    unit: str = "rows",
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
        axis.hist(clipped, bins=bins, color=_NORMAL, label=f"scored {unit}")
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
    axis.set_ylabel(unit)
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


#: buckets a series is drawn in (each keeps its minimum and maximum, so spikes survive)
MAX_SERIES_BUCKETS = 1500
#: channels drawn; the others are counted in the caption
MAX_CHANNELS = 4


def _envelope(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, values) of a min/max envelope over at most ``MAX_SERIES_BUCKETS`` buckets."""
    n = len(values)
    if n <= 2 * MAX_SERIES_BUCKETS:
        return np.arange(n), values
    edges = np.linspace(0, n, MAX_SERIES_BUCKETS + 1).astype(int)
    positions, kept = [], []
    for start, stop in itertools.pairwise(edges):
        chunk = values[start:stop]
        finite = np.isfinite(chunk)
        if not finite.any():
            continue
        low, high = np.nanargmin(chunk), np.nanargmax(chunk)
        for index in sorted({int(low), int(high)}):
            positions.append(start + index)
            kept.append(chunk[index])
    return np.asarray(positions), np.asarray(kept)


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) step of every run of consecutive True values."""
    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    changes = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(changes[::2].tolist(), (changes[1::2] - 1).tolist(), strict=True))


def _spans(axis: plt.Axes, x: np.ndarray, flags: np.ndarray, colour: str, label: str) -> None:
    """Shade the runs of ``flags``; runs closer than 0.1% of the series merge, to bound them."""
    gap = max(1, len(flags) // 1000)
    merged: list[list[int]] = []
    for first, last in runs(flags):
        if merged and first - merged[-1][1] <= gap:
            merged[-1][1] = last
        else:
            merged.append([first, last])
    for i, (first, last) in enumerate(merged):
        right = x[min(last + 1, len(x) - 1)]
        axis.axvspan(
            x[first], right, color=colour, alpha=0.25, lw=0, label=label if i == 0 else None
        )


def series_with_scores(
    x: np.ndarray,
    channels: pd.DataFrame,
    scores: np.ndarray,
    threshold: float,
    flags: np.ndarray,
    labels: np.ndarray | None = None,
) -> str:
    """The channels over time and the score below them, flagged steps shaded (and the
    labelled anomalies, when known, in a band of their own)."""
    shown = list(channels.columns[:MAX_CHANNELS])
    figure, axes = plt.subplots(
        len(shown) + 1, 1, figsize=(9, 1.7 * (len(shown) + 1) + 0.6), sharex=True, squeeze=False
    )
    axes = axes[:, 0]
    for axis, name in zip(axes, shown, strict=False):
        positions, values = _envelope(channels[name].to_numpy(dtype=np.float64))
        axis.plot(x[positions], values, color=_NORMAL, lw=0.8)
        axis.set_ylabel(str(name)[:18], fontsize=8)
        _spans(axis, x, flags, _THRESHOLD, "flagged")
    score_axis = axes[-1]
    positions, values = _envelope(np.asarray(scores, dtype=np.float64))
    score_axis.plot(x[positions], values, color="#222222", lw=0.8, label="score")
    if np.isfinite(threshold):
        score_axis.axhline(threshold, color=_THRESHOLD, ls="--", lw=1, label="threshold")
    _spans(score_axis, x, flags, _THRESHOLD, "flagged")
    if labels is not None and labels.any():
        band = score_axis.twinx()
        band.set_axis_off()
        _spans(band, x, labels.astype(bool), _ANOMALY, "labelled anomaly")
        band.legend(loc="upper left", fontsize=8)
    score_axis.set_ylabel("score", fontsize=8)
    score_axis.legend(loc="upper right", fontsize=8)
    more = len(channels.columns) - len(shown)
    title = f"{len(x):,} steps" + (f"; {more} more channel(s) not drawn" if more > 0 else "")
    axes[0].set_title(title, fontsize=9)
    return _png(figure)
