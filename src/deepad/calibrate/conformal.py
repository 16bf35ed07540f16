"""Conformal p-values: how many clean calibration scores are at least as extreme.

With calibration scores ``c_1..c_m`` of rows the model never trained on, the p-value of a
new score ``s`` is ``(1 + #{i: c_i >= s}) / (m + 1)``. When the calibration rows and a
new normal row are exchangeable (same distribution, model fitted without either), the
p-value is super-uniform: ``P(p <= alpha) <= alpha`` for every alpha, in finite samples
(Vovk et al., 2005; Bates et al., 2023 for the outlier-detection framing). Ties count as
"at least as large", which keeps the guarantee for discrete scores too.
"""

from __future__ import annotations

import math

import numpy as np


def as_scores(values: object, what: str = "scores") -> np.ndarray:
    """``values`` as a 1-D finite float64 array, or a ValueError naming the problem."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers") from None
    if array.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {array.shape}")
    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise ValueError(f"{what} hold {bad} non-finite value(s) (NaN or inf)")
    return array


def conformal_p_values(calibration_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """p-value per score: ``(1 + #calibration >= score) / (m + 1)``, float64 in (0, 1]."""
    calibration = np.sort(as_scores(calibration_scores, "calibration scores"))
    if calibration.size == 0:
        raise ValueError("conformal p-values need at least one calibration score")
    values = np.asarray(scores, dtype=np.float64)
    at_least = calibration.size - np.searchsorted(calibration, values, side="left")
    p = (1.0 + at_least) / (calibration.size + 1.0)
    return np.where(np.isnan(values), np.nan, p)


def conformal_threshold(
    calibration_scores: np.ndarray, alpha: float, confidence: float | None = None
) -> float:
    """The score above which rows have p-value <= ``alpha`` (``+inf`` when none can).

    ``score > threshold`` is exactly ``p <= alpha``: with ``k = floor(alpha (m + 1)) - 1``
    calibration scores allowed at or above a flagged score, the threshold is the
    ``(k + 1)``-th largest calibration score.

    With ``confidence``, the threshold is the smallest order statistic whose false-positive
    rate is at most ``alpha`` for that share of calibration draws (training-conditional
    validity: ``P(FPR <= alpha) >= confidence`` over the draw, instead of ``E[FPR] <=
    alpha``; see :func:`conformal_rank`).
    """
    calibration = np.sort(as_scores(calibration_scores, "calibration scores"))
    m = calibration.size
    allowed = conformal_rank(m, alpha, confidence) - 1
    if m == 0 or allowed < 0:
        return math.inf
    if allowed >= m:
        return -math.inf
    return float(calibration[m - 1 - allowed])


def conformal_rank(n_calibration: int, alpha: float, confidence: float | None = None) -> int:
    """``k``: flag scores above the k-th largest of ``n_calibration`` calibration scores.

    Without ``confidence``: ``k = floor(alpha (m + 1))``, so ``E[FPR] = k / (m + 1) <=
    alpha``. With it: the largest ``k`` whose FPR, distributed ``Beta(k, m + 1 - k)`` over
    calibration draws, is at most ``alpha`` with probability ``confidence`` (Vovk 2012);
    0 when even ``k = 1`` is not (too few rows).
    """
    k = math.floor(alpha * (n_calibration + 1) + 1e-9)
    if confidence is None or k < 1:
        return k
    from scipy.stats import beta

    ranks = np.arange(1, k + 1)
    held = beta.cdf(alpha, ranks, n_calibration + 1 - ranks) >= confidence
    return int(ranks[held][-1]) if held.any() else 0


def fpr_spread(
    n_calibration: int, alpha: float, coverage: float = 0.9, confidence: float | None = None
) -> tuple[float, float]:
    """The range the false-positive rate of one fitted threshold falls in, over draws of
    ``n_calibration`` clean calibration rows (central ``coverage`` share of draws).

    The guarantee ``E[FPR] <= alpha`` is an average over calibration draws; one draw's
    FPR (on unlimited new normal rows) is ``Beta(k, m + 1 - k)`` with
    ``k = floor(alpha (m + 1))`` for continuous scores (the k-th largest of m uniforms;
    Vovk 2012, Bates et al. 2023). With m = 49 and alpha = 0.1 that is 4%-18%; with
    m = 2,000, 8.9%-11.1%. ``(0, 0)`` when alpha is finer than the rows resolve.
    ``confidence`` gives the spread of the stricter threshold of :func:`conformal_rank`.
    """
    from scipy.stats import beta

    k = conformal_rank(n_calibration, alpha, confidence)
    if n_calibration == 0 or k < 1:
        return 0.0, 0.0
    tail = (1.0 - coverage) / 2.0
    low, high = beta.ppf([tail, 1.0 - tail], k, n_calibration + 1 - k)
    return float(low), float(high)


def smallest_p_value(n_calibration: int) -> float:
    """The finest p-value ``m`` calibration rows can give: ``1 / (m + 1)``."""
    return 1.0 / (n_calibration + 1.0)
